"""Marketing consent at the real dispatcher: no webhook about a customer who withdrew it,
neither a new one nor a retry already on its way, while another customer's go out."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from base.config import Topics
from tests.webhooks.conftest import produce, subscription, wait_for
from tests.webhooks.receiver import Receiver
from tests.webhooks.test_delivery import NOW, order

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


def snapshot(customer: str, marketing: bool | None) -> tuple[str, dict[str, Any]]:
    profile: dict[str, Any] = {"site_id": "shop", "profile_id": customer, "orders": 0}
    if marketing is not None:
        mark = {"granted": marketing, "at": NOW, "event_id": str(uuid.uuid4())}
        profile["consent"] = {"analytics": None, "marketing": mark}
    return f"shop:{customer}", profile


def abandoned(customer: str) -> tuple[str, dict[str, Any]]:
    transition = {
        "site_id": "shop",
        "profile_id": customer,
        "from_stage": "cart",
        "to_stage": "cart_abandoned",
        "cause": "timer",
        "at": NOW,
    }
    return f"shop:{customer}", transition


def test_a_customer_who_withdrew_marketing_consent_gets_no_webhook(
    broker: str, receiver: Receiver, make_dispatcher: Any, topics: Topics
) -> None:
    dispatcher = make_dispatcher(
        [
            subscription(receiver, "flaky", ["order.placed"]),
            subscription(receiver, "ok", ["journey.cart_abandoned", "order.placed"]),
        ],
        backoff_base_s=4,
    )
    produce(broker, topics.profiles, [snapshot("ann", True), snapshot("bob", None)])
    wait_for(lambda: dispatcher.health()["profiles_cached"] == 2, 30, "the snapshots")
    produce(broker, topics.events, [order("ann", 1), order("bob", 1)])
    wait_for(lambda: len(receiver.hits("flaky")) == 2, 30, "both first attempts (failed)")
    # Ann withdraws while her order's webhook waits for its retry.
    produce(broker, topics.profiles, [snapshot("ann", False)])
    key, own_denial = order("carl", 1)
    own_denial["context"] = {"consent": {"ad_storage": "denied"}}
    produce(broker, topics.events, [(key, own_denial)])
    produce(broker, topics.journey, [abandoned("ann"), abandoned("bob")])

    wait_for(lambda: len(receiver.successes("flaky")) == 1, 45, "bob's retried order")
    wait_for(lambda: dispatcher.health()["counts"].get("withheld", 0) >= 1, 30, "ann's retry")
    wait_for(lambda: len(receiver.hits("ok")) >= 2, 30, "bob's other webhooks")
    about = {
        path: sorted(hit.body["profile"]["profile_id"] for hit in receiver.hits(path) if hit.body)
        for path in ("flaky", "ok")
    }
    assert about["flaky"] == ["ann", "bob", "bob", "bob"]  # ann's first try only, before
    assert about["ok"] == ["ann", "bob", "bob"]  # ann's order went out before she withdrew
    kinds = sorted(hit.body["type"] for hit in receiver.hits("ok") if hit.body)
    assert kinds == ["journey.cart_abandoned", "order.placed", "order.placed"]
