"""Identity resolution: which profile an event belongs to. Pure functions.

A browser's events build an anonymous profile (``anon-<anonymous_id>``) until the browser
is identified; from then on they go to the customer's profile, and the anonymous profile is
merged into it once. Messages on the re-keyed topic are JSON objects of three kinds:
``event`` (apply an event), ``merge`` (hand the anonymous profile over to a customer) and
``absorb`` (fold a handed-over profile in).
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from schemas.events import Envelope
from schemas.profile import Profile


def anonymous_profile_id(anonymous_id: str) -> str:
    return f"anon-{anonymous_id}"


def table_key(site_id: str, id_: str) -> str:
    return f"{site_id}:{id_}"


@dataclass(frozen=True)
class Routing:
    profile_id: str
    link_to: str | None = None
    """A new ``anonymous id → customer id`` link to store."""
    merge_from: str | None = None
    """An anonymous profile to merge into ``profile_id``."""


def route(event: Envelope, linked_customer: str | None) -> Routing:
    """Where ``event`` goes, given the customer its browser is linked to (if any)."""
    customer = event.customer_id
    if customer is None:
        if linked_customer is not None:
            return Routing(profile_id=linked_customer)
        return Routing(profile_id=anonymous_profile_id(event.anonymous_id))
    if linked_customer == customer:
        return Routing(profile_id=customer)
    # A first identification merges the anonymous history; a browser that identifies
    # as a second customer starts a new link and never merges two customers.
    merge_from = anonymous_profile_id(event.anonymous_id) if linked_customer is None else None
    return Routing(profile_id=customer, link_to=customer, merge_from=merge_from)


def event_message(event: Envelope, event_json: bytes, profile_id: str) -> bytes:
    return orjson.dumps(
        {
            "kind": "event",
            "site_id": event.site_id,
            "profile_id": profile_id,
            "event": orjson.Fragment(event_json),
        }
    )


def merge_message(site_id: str, anonymous_profile: str, into: str, merge_id: str) -> bytes:
    return orjson.dumps(
        {
            "kind": "merge",
            "site_id": site_id,
            "profile_id": anonymous_profile,
            "into": into,
            "merge_id": merge_id,
        }
    )


def absorb_message(site_id: str, into: str, profile: Profile, merge_id: str) -> bytes:
    return orjson.dumps(
        {
            "kind": "absorb",
            "site_id": site_id,
            "profile_id": into,
            "profile": profile.model_dump(mode="json"),
            "merge_id": merge_id,
        }
    )
