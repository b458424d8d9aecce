"""Identity resolution: which profile an event belongs to. Pure functions.

A browser's events build an anonymous profile (``anon-<anonymous_id>``) until the browser
is identified; from then on they go to the customer's profile, and the anonymous profile is
merged into it once. Messages on the re-keyed topic are JSON objects of three kinds:
``event`` (apply an event), ``merge`` (hand the anonymous profile over to a customer) and
``absorb`` (fold a handed-over profile in).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import orjson
from pydantic import BaseModel, Field

from schemas.events import Envelope
from schemas.privacy import ANONYMOUS_PREFIX
from schemas.profile import Profile


def anonymous_profile_id(anonymous_id: str) -> str:
    return f"{ANONYMOUS_PREFIX}{anonymous_id}"


def table_key(site_id: str, id_: str) -> str:
    return f"{site_id}:{id_}"


def key_parts(key: str) -> tuple[str, str]:
    """The site and the id of a table key (:func:`table_key` undone)."""
    site_id, _, id_ = key.partition(":")
    return site_id, id_


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


def event_message(
    event: Envelope, event_json: bytes, profile_id: str, source: tuple[int, int] | None = None
) -> bytes:
    message: dict[str, object] = {
        "kind": "event",
        "site_id": event.site_id,
        "profile_id": profile_id,
        "event": orjson.Fragment(event_json),
    }
    if source is not None:
        message["source"] = list(source)
    return orjson.dumps(message)


Routed = tuple[str, bytes]
"""(table key, value) of a message for the re-keyed topic."""


def routed_messages(
    event: Envelope, event_json: bytes, routing: Routing, source: tuple[int, int]
) -> list[Routed]:
    """What the identity agent sends for a routed event: the merge that a first
    identification starts (before the event, so the hand-over comes first), then the event."""
    out: list[Routed] = []
    if routing.merge_from is not None:
        merge_id = f"merge:{event.event_id}"
        merge = merge_message(event.site_id, routing.merge_from, routing.profile_id, merge_id)
        out.append((table_key(event.site_id, routing.merge_from), merge))
    message = event_message(event, event_json, routing.profile_id, source)
    return [*out, (table_key(event.site_id, routing.profile_id), message)]


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
            "profile": profile.model_dump(mode="json", exclude={"outbox"}),
            "merge_id": merge_id,
        }
    )


LINKS_KEPT = 8


class Link(BaseModel):
    """One ``anonymous id → customer`` link, from the source offset of the event that made it."""

    customer: str
    since: int = Field(description="Source offset of the linking event (replays route alike).")
    at: datetime
    event_id: str
    merged: str | None = Field(default=None, description="Anonymous profile merged in.")
    undone_after: int | None = Field(
        default=None, description="Offset after which the link no longer applies."
    )
    undone_at: datetime | None = None


class BrowserIdentity(BaseModel):
    """The identity history of one browser, as stored in the ``identity`` table."""

    links: list[Link] = Field(default_factory=list)
    offset: int = Field(default=-1, description="Highest source offset routed.")


def linked_before(identity: BrowserIdentity, offset: int) -> str | None:
    """The customer the browser was linked to just before source offset ``offset``."""
    current: str | None = None
    for link in identity.links:
        if link.since >= offset:
            break
        undone = link.undone_after is not None and link.undone_after < offset
        current = None if undone else link.customer
    return current


def route_at(
    identity: BrowserIdentity, event: Envelope, offset: int
) -> tuple[Routing, BrowserIdentity]:
    """Route the event read at source ``offset``; the same offset always routes alike."""
    routing = route(event, linked_before(identity, offset))
    changed = identity
    if routing.link_to is not None and not any(link.since == offset for link in identity.links):
        link = Link(
            customer=routing.link_to,
            since=offset,
            at=event.occurred_at,
            event_id=str(event.event_id),
            merged=routing.merge_from,
        )
        changed = identity.model_copy(update={"links": [*identity.links, link][-LINKS_KEPT:]})
    if offset > changed.offset:
        changed = changed.model_copy(update={"offset": offset})
    return routing, changed


def undo_link(identity: BrowserIdentity, offset: int, now: datetime) -> BrowserIdentity:
    """Stop the browser's latest link after source ``offset`` (the undo command's own).

    Its later events build an anonymous profile again. The same command read twice
    changes nothing.
    """
    links = list(identity.links)
    if any(link.undone_after == offset for link in links):
        return identity
    for index in range(len(links) - 1, -1, -1):
        if links[index].since < offset and links[index].undone_after is None:
            links[index] = links[index].model_copy(
                update={"undone_after": offset, "undone_at": now}
            )
            return identity.model_copy(update={"links": links})
    raise NoLinkError("the browser has no link to undo")


def undo_message(site_id: str, anonymous_id: str) -> bytes:
    """The command, sent on the events topic under the browser's key, that undoes its link."""
    return orjson.dumps({"command": "undo_link", "site_id": site_id, "anonymous_id": anonymous_id})


def is_command(raw: bytes) -> bool:
    return raw.startswith(b'{"command":')


class NoLinkError(ValueError):
    """Undo asked for a browser that is not linked to any customer."""
