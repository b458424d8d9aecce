"""Triggers, subscription filters, payloads, signatures, the profile summary and the TOML file."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from aiokafka import TopicPartition
from standardwebhooks import Webhook, WebhookVerificationError

from schemas.webhooks import Cart, Subscription, WebhookPayload
from webhooks.deliveries import new_delivery
from webhooks.signing import new_secret, signed_headers
from webhooks.subscriptions import SubscriptionStore, from_toml, to_toml
from webhooks.summary import apply_cart, summarize
from webhooks.tracking import OffsetTracker
from webhooks.triggers import (
    first_order,
    journey_trigger,
    order_triggers,
    segment_trigger,
    wants,
)

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def sub(events: list[str], **extra: object) -> Subscription:
    return Subscription(
        id="crm",
        site_id="shop",
        url="https://crm.example/hook",
        secret=new_secret(),
        events=events,
        **extra,  # type: ignore[arg-type]
    )


def transition(to_stage: str) -> dict[str, object]:
    return {
        "site_id": "shop",
        "profile_id": "ann",
        "from_stage": "cart",
        "to_stage": to_stage,
        "cause": "timer",
        "at": NOW.isoformat(),
    }


def test_journey_kinds_follow_the_target_stage_including_new_stages() -> None:
    trigger = journey_trigger(transition("won_back"))
    assert trigger.kind == "journey.won_back"
    assert wants(sub(["journey.won_back"]), trigger)
    assert wants(sub(["journey.*"]), trigger)
    assert not wants(sub(["journey.cart_abandoned"]), trigger)
    assert not wants(sub(["journey.won_back"], enabled=False), trigger)
    other_site = sub(["journey.won_back"]).model_copy(update={"site_id": "other"})
    assert not wants(other_site, trigger)


def test_segment_filters_by_name() -> None:
    change = {
        "site_id": "shop",
        "profile_id": "ann",
        "segment": "champions",
        "change": "entered",
        "cause": "rfm",
        "at": NOW.isoformat(),
    }
    trigger = segment_trigger(change)
    assert trigger.kind == "segment.entered"
    assert wants(sub(["segment.entered"]), trigger)
    assert wants(sub(["segment.entered"], segments=["champions"]), trigger)
    assert not wants(sub(["segment.entered"], segments=["at_risk"]), trigger)
    assert not wants(sub(["segment.exited"]), trigger)


def test_unknown_kinds_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown event kinds"):
        sub(["order.cancelled"])


def test_delivery_ids_are_stable_per_subscription_and_event() -> None:
    event = {
        "event_id": "e1",
        "site_id": "shop",
        "occurred_at": NOW.isoformat(),
        "properties": {"order_id": "o1", "total": "10", "currency": "EUR"},
    }
    first, again = order_triggers(event, "ann", True), order_triggers(event, "ann", True)
    assert [t.kind for t in first] == ["order.placed", "order.first"]
    one = new_delivery(sub(["order.placed"]), first[0], None, 5, NOW)
    two = new_delivery(sub(["order.placed"]), again[0], None, 5, NOW)
    other = new_delivery(sub(["order.first"]), first[1], None, 5, NOW)
    assert one.delivery_id == two.delivery_id
    assert one.delivery_id != other.delivery_id
    payload = WebhookPayload.model_validate_json(one.body)
    assert payload.delivery_id == one.delivery_id
    assert payload.schema_version == 1


def test_first_order_needs_no_earlier_first_order_in_the_snapshot() -> None:
    earlier = {"first_order_at": "2026-10-01T10:00:00Z", "orders": 1}
    same = {"first_order_at": NOW.isoformat(), "orders": 1}
    assert first_order(True, None, NOW)
    assert first_order(True, {"orders": 0}, NOW)
    assert first_order(True, same, NOW)
    assert not first_order(True, earlier, NOW)
    assert not first_order(False, None, NOW)


def test_signature_verifies_with_the_standardwebhooks_library() -> None:
    secret = new_secret()
    body = '{"type": "order.placed"}'
    headers = signed_headers(secret, "msg_abc", body, datetime.now(UTC))
    assert Webhook(secret).verify(body, headers) == {"type": "order.placed"}
    assert headers["webhook-signature"].startswith("v1,")
    with pytest.raises(WebhookVerificationError, match="signature"):
        Webhook(new_secret()).verify(body, headers)


def test_cart_follows_adds_removes_and_orders() -> None:
    def event(kind: str, product: str, quantity: int = 1) -> dict[str, object]:
        props = {"product_id": product, "price": "5.00", "quantity": quantity}
        return {"type": kind, "properties": props}

    cart = Cart()
    cart = apply_cart(cart, event("cart_add", "p1", 2))
    cart = apply_cart(cart, event("cart_add", "p2"))
    cart = apply_cart(cart, event("cart_remove", "p1"))
    assert {line.product_id: line.quantity for line in cart.items} == {"p1": 1, "p2": 1}
    assert cart.value == Decimal("10.00")
    assert apply_cart(cart, {"type": "order_placed", "properties": {}}).items == []


def test_summary_prefers_the_snapshot_and_adds_cached_knowledge() -> None:
    snapshot = {"customer_id": "ann", "stage": "at_risk", "orders": 3, "revenue": "120.5"}
    summary = summarize("ann", snapshot, ["champions"], None, {"email": "a@x.io"}, None)
    assert summary.stage == "at_risk"
    assert summary.orders == 3
    assert summary.revenue == Decimal("120.5")
    assert summary.email == "a@x.io"
    assert summary.segments == ["champions"]
    assert summarize("anon-b1", None, [], None, {}, None).customer_id is None


def test_subscriptions_round_trip_through_the_toml_file(tmp_path: Path) -> None:
    tricky = sub(["segment.entered"], segments=["a"], description='quote " and \\ and é')
    assert from_toml(to_toml([tricky])) == [tricky]
    store = SubscriptionStore(tmp_path / "subs.toml")
    store.put(tricky)
    store.set_enabled("crm", False, "410")
    reread = SubscriptionStore(tmp_path / "subs.toml").get("crm")
    assert reread.enabled is False
    assert reread.disabled_reason == "410"


def test_a_hand_edited_file_is_picked_up_and_a_broken_edit_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "subs.toml"
    store = SubscriptionStore(path)
    assert store.all() == []
    path.write_text(to_toml([sub(["order.placed"])]))
    assert [s.id for s in store.all()] == ["crm"]
    path.write_text("[[subscription]]\nid = ")
    os.utime(path, (1, 1))
    assert [s.id for s in store.all()] == ["crm"]


def test_offsets_commit_only_below_the_first_unsettled_record() -> None:
    tp = TopicPartition("t", 0)
    tracker = OffsetTracker()
    tracker.started(tp, 0, 1)
    tracker.started(tp, 1, 0)
    tracker.started(tp, 2, 2)
    assert tracker.positions({tp}) == {tp: 0}
    tracker.settled(tp, 0)
    assert tracker.positions({tp}) == {tp: 2}
    tracker.settled(tp, 2)
    assert tracker.positions({tp}) == {tp: 2}
    tracker.settled(tp, 2)
    assert tracker.positions({tp}) == {tp: 3}
