"""Turning a request body into accepted events and per-event rejections."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from collector.batch import BodyError, RequestFacts, read_body, validate_batch

RECEIVED = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def facts(verified: bool = False, sent_at: datetime | None = None) -> RequestFacts:
    return RequestFacts(site_id="shop", verified=verified, received_at=RECEIVED, sent_at=sent_at)


def page_view(**fields: Any) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "type": "page_view",
        "anonymous_id": "a1",
        "occurred_at": "2026-11-24T11:59:00+00:00",
    } | fields


def test_good_events_survive_a_bad_neighbour() -> None:
    result = validate_batch([page_view(), {"type": "page_view"}, page_view()], facts())
    assert len(result.accepted) == 2
    assert [r.index for r in result.rejected] == [1]
    assert "event_id" in result.rejected[0].reason


def test_unknown_types_are_rejected_by_name() -> None:
    result = validate_batch([page_view(type="teleport")], facts())
    assert result.rejected[0].reason == "unknown event type 'teleport'"


def test_the_site_comes_from_the_key_never_from_the_body() -> None:
    result = validate_batch([page_view(site_id="someone-else")], facts())
    assert result.accepted[0].site_id == "shop"


def test_unknown_top_level_fields_are_kept_in_extra() -> None:
    result = validate_batch([page_view(plan="gold")], facts())
    assert result.accepted[0].extra == {"plan": "gold"}


def test_client_clock_skew_is_corrected_with_sent_at() -> None:
    client_clock_behind = RECEIVED - timedelta(minutes=10)
    result = validate_batch([page_view()], facts(sent_at=client_clock_behind))
    occurred = result.accepted[0].occurred_at
    assert occurred == datetime(2026, 11, 24, 12, 9, tzinfo=UTC)


def test_orders_are_verified_only_with_the_secret_key() -> None:
    order = page_view(
        type="order_placed",
        properties={"order_id": "o1", "total": "10.00", "currency": "EUR"},
    )
    assert validate_batch([order], facts(verified=False)).accepted[0].verified is False
    assert validate_batch([order], facts(verified=True)).accepted[0].verified is True
    assert validate_batch([page_view()], facts(verified=True)).accepted[0].verified is False


def test_money_must_be_a_non_negative_decimal_with_an_iso_currency() -> None:
    order = page_view(
        type="order_placed", properties={"order_id": "o1", "total": "-1", "currency": "eur"}
    )
    reason = validate_batch([order], facts()).rejected[0].reason
    assert "properties.total" in reason
    assert "properties.currency" in reason


@pytest.mark.parametrize("body", [b"{", b"42", b'{"batch": 3}'])
def test_unreadable_bodies_are_refused_whole(body: bytes) -> None:
    with pytest.raises(BodyError):
        read_body(body)
