"""Which profile an event goes to, before and after a browser is identified."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from schemas.events import parse_event
from stream_processors.identity import anonymous_profile_id, route


def event(**fields: Any) -> Any:
    base = {
        "event_id": str(uuid.uuid4()),
        "type": "page_view",
        "site_id": "s",
        "anonymous_id": "browser-1",
        "occurred_at": datetime(2026, 1, 1, tzinfo=UTC).isoformat(),
    }
    return parse_event(base | fields)


def test_an_unknown_browser_builds_an_anonymous_profile() -> None:
    routing = route(event(), linked_customer=None)
    assert routing.profile_id == anonymous_profile_id("browser-1")
    assert routing.link_to is None
    assert routing.merge_from is None


def test_first_identification_links_and_merges_the_anonymous_history() -> None:
    routing = route(event(type="identify", customer_id="c1"), linked_customer=None)
    assert routing.profile_id == "c1"
    assert routing.link_to == "c1"
    assert routing.merge_from == anonymous_profile_id("browser-1")


def test_a_linked_browser_goes_to_its_customer_without_a_customer_id() -> None:
    routing = route(event(), linked_customer="c1")
    assert routing.profile_id == "c1"
    assert routing.link_to is None
    assert routing.merge_from is None


def test_a_second_customer_on_the_same_browser_is_never_merged_into_the_first() -> None:
    routing = route(event(type="identify", customer_id="c2"), linked_customer="c1")
    assert routing.profile_id == "c2"
    assert routing.link_to == "c2"
    assert routing.merge_from is None
