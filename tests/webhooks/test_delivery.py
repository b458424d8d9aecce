"""Deliveries for real: broker, dispatcher process and an HTTP receiver on free ports."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import pytest

from base.config import Topics
from tests.webhooks.conftest import produce, read_topic, subscription, wait_for
from tests.webhooks.receiver import Receiver

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC).isoformat()


def order(customer: str, n: int, total: str = "42.50") -> tuple[str, dict[str, Any]]:
    event = {
        "event_id": str(uuid.uuid4()),
        "type": "order_placed",
        "site_id": "shop",
        "anonymous_id": f"browser-{customer}",
        "customer_id": customer,
        "occurred_at": NOW,
        "properties": {"order_id": f"o-{customer}-{n}", "total": total, "currency": "EUR"},
    }
    return f"shop:browser-{customer}", event


def cart_add(customer: str, product: str, price: str) -> tuple[str, dict[str, Any]]:
    event = {
        "event_id": str(uuid.uuid4()),
        "type": "cart_add",
        "site_id": "shop",
        "anonymous_id": f"browser-{customer}",
        "customer_id": customer,
        "occurred_at": NOW,
        "properties": {"product_id": product, "price": price, "quantity": 2},
    }
    return f"shop:browser-{customer}", event


def test_signed_payload_carries_the_event_and_profile_summary(
    broker: str, receiver: Receiver, make_dispatcher: Any, topics: Topics
) -> None:
    wanted = subscription(receiver, "ok", ["journey.cart_abandoned"], personal_traits=True)
    dispatcher = make_dispatcher([wanted])
    identify = {
        "event_id": str(uuid.uuid4()),
        "type": "identify",
        "site_id": "shop",
        "anonymous_id": "browser-ann",
        "customer_id": "ann",
        "occurred_at": NOW,
        "properties": {"traits": {"email": "ann@example.com"}},
    }
    produce(broker, topics.events, [("shop:browser-ann", identify), cart_add("ann", "p1", "19.90")])
    snapshot = {"site_id": "shop", "profile_id": "ann", "stage": "cart_abandoned", "orders": 0}
    produce(broker, topics.profiles, [("shop:ann", snapshot)])
    transition = {
        "site_id": "shop",
        "profile_id": "ann",
        "from_stage": "cart",
        "to_stage": "cart_abandoned",
        "cause": "timer",
        "event_id": None,
        "at": NOW,
    }
    not_wanted = transition | {"to_stage": "customer", "cause": "order"}
    # The journey record comes after the events it summarises have been read.
    wait_for(
        lambda: (
            dispatcher.health()["counts"].get(f"read {topics.events}") == 2
            and dispatcher.health()["profiles_cached"] == 1
        ),
        30,
        "the events and the snapshot to be read",
    )
    produce(broker, topics.journey, [("shop:ann", transition), ("shop:ann", not_wanted)])

    wait_for(lambda: len(receiver.hits("ok")) >= 1, 30, "the webhook")
    (hit,) = receiver.hits("ok")
    assert hit.verified
    assert hit.body is not None
    assert hit.body["delivery_id"] == hit.delivery_id
    assert hit.body["type"] == "journey.cart_abandoned"
    assert hit.body["schema_version"] == 1
    assert hit.body["data"]["to_stage"] == "cart_abandoned"
    profile = hit.body["profile"]
    assert profile["customer_id"] == "ann"
    assert profile["email"] == "ann@example.com"
    assert [line["product_id"] for line in profile["cart"]["items"]] == ["p1"]
    assert profile["cart"]["value"] == "39.80"


def test_flaky_receiver_gets_each_event_once_after_three_logged_attempts(
    broker: str, receiver: Receiver, make_dispatcher: Any, topics: Topics
) -> None:
    make_dispatcher(
        [
            subscription(receiver, "flaky", ["order.placed"]),
            subscription(receiver, "busy", ["order.placed"]),
        ]
    )
    orders = [order(f"c{n}", n) for n in range(3)]
    produce(broker, topics.events, orders)

    wait_for(lambda: len(receiver.successes("flaky")) >= 3, 45, "three successful deliveries")
    successes = receiver.successes("flaky")
    assert all(hit.verified for hit in receiver.hits("flaky"))
    by_event: dict[str, set[str]] = defaultdict(set)
    for hit in successes:
        assert hit.body is not None
        by_event[hit.body["data"]["event_id"]].add(hit.delivery_id)
    assert set(by_event) == {event["event_id"] for _, event in orders}
    assert len(successes) == 3
    assert all(len(ids) == 1 for ids in by_event.values())

    def logged() -> dict[str, list[tuple[int, str, int]]]:
        attempts: dict[str, list[tuple[int, str, int]]] = defaultdict(list)
        for record in read_topic(broker, topics.webhooks_attempts, quiet_s=0.5):
            attempts[record["delivery_id"]].append(
                (record["attempt"], record["outcome"], record["status"])
            )
        return attempts

    wait_for(lambda: sum(len(v) for v in logged().values()) >= 9, 20, "nine attempt records")
    attempts = logged()
    flaky_ids = {hit.delivery_id for hit in successes}
    assert flaky_ids <= set(attempts)
    for delivery_id in flaky_ids:
        assert sorted(attempts[delivery_id]) == [
            (1, "failed", 500),
            (2, "failed", 500),
            (3, "delivered", 200),
        ]

    # The busy endpoint asked for one second with Retry-After, instead of the 0.3 s backoff.
    wait_for(lambda: len(receiver.successes("busy")) >= 3, 20, "the busy endpoint's deliveries")
    for hit in receiver.successes("busy"):
        (refused,) = [
            h for h in receiver.hits("busy") if h.delivery_id == hit.delivery_id and h.status == 503
        ]
        assert hit.at - refused.at >= 0.95


def test_a_slow_endpoint_keeps_its_limit_and_does_not_hold_back_another(
    broker: str, receiver: Receiver, make_dispatcher: Any, topics: Topics
) -> None:
    make_dispatcher(
        [
            subscription(receiver, "slow", ["order.placed"]),
            subscription(receiver, "ok", ["order.placed"]),
        ],
        endpoint_concurrency=2,
    )
    produce(broker, topics.events, [order(f"s{n}", n) for n in range(20)])
    wait_for(lambda: len(receiver.successes("ok")) == 20, 30, "the fast endpoint")
    # 20 deliveries, two at a time, 0.3 s each: the slow endpoint needs at least 3 s.
    assert len(receiver.successes("slow")) < 20
    wait_for(lambda: len(receiver.successes("slow")) == 20, 30, "the slow endpoint")
    assert receiver.most_concurrent["slow"] == 2


def test_a_dead_receiver_ends_in_the_dlq_and_replay_delivers(
    broker: str, receiver: Receiver, make_dispatcher: Any, topics: Topics
) -> None:
    dispatcher = make_dispatcher(
        [subscription(receiver, "dead", ["order.placed", "order.first"])], max_attempts=2
    )
    produce(broker, topics.events, [order("dora", 1)])

    wait_for(lambda: len(read_topic(broker, topics.webhooks_dlq, 0.3)) >= 2, 30, "the DLQ")
    parked = read_topic(broker, topics.webhooks_dlq, 0.3)
    assert {p["kind"] for p in parked} == {"order.placed", "order.first"}
    assert all(p["last_status"] == 500 and p["attempt"] == 2 for p in parked)
    assert receiver.successes("dead") == []

    receiver.revive()
    response = dispatcher.admin("POST", "/replay", json={"source": "dlq"})
    assert response.status_code == 200, response.text
    assert sorted(response.json()["delivery_ids"]) == sorted(p["delivery_id"] for p in parked)

    wait_for(lambda: len(receiver.successes("dead")) >= 2, 30, "the replayed deliveries")
    assert {hit.delivery_id for hit in receiver.successes("dead")} == {
        p["delivery_id"] for p in parked
    }
    # A second replay finds nothing left to send.
    again = dispatcher.admin("POST", "/replay", json={"source": "dlq"})
    assert again.json()["replayed"] == 0


def test_kill_9_during_delivery_loses_nothing(
    broker: str, receiver: Receiver, make_dispatcher: Any, topics: Topics
) -> None:
    dispatcher = make_dispatcher(
        [subscription(receiver, "slow", ["order.placed"])], endpoint_concurrency=2
    )
    orders = [order(f"k{n}", n) for n in range(30)]
    produce(broker, topics.events, orders)
    wait_for(lambda: len(receiver.successes("slow")) >= 6, 30, "the first deliveries")
    dispatcher.kill9()
    dispatcher.start()

    expected = {event["event_id"] for _, event in orders}

    def delivered_events() -> dict[str, set[str]]:
        ids: dict[str, set[str]] = defaultdict(set)
        for hit in receiver.successes("slow"):
            assert hit.body is not None
            ids[hit.body["data"]["event_id"]].add(hit.delivery_id)
        return ids

    wait_for(lambda: set(delivered_events()) == expected, 60, "every event delivered")
    assert all(len(ids) == 1 for ids in delivered_events().values())
