"""Every figure of every customer against an independent ground truth, on the real stack:
a time-ordered log and a shuffled log with a ``kill -9`` of the worker in the middle, then the
whole log again at new offsets (what a second collector, a collector restart or a producer
retry produce) with another ``kill -9`` in the middle of it.

Customers browse on two devices, anonymously at first, and each device identifies once; they
view, fill and empty carts, check out and order (with the secret key). The ground truth is the
reference model of ``tests/processors/test_order_free.py``, computed from the distinct events
of each customer in time order, with none of the worker's code.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError

from base.config import BrokerKind, FootfallSettings
from base.kafka import topic_partitions
from base.lag import group_lag
from footfall.stack import Stack
from schemas.events import parse_event
from stream_processors.settings import WorkerSettings
from tests.conftest import TEST_BROKER
from tests.integration.test_crash_recovery import (
    running_stack,
    send_in_background,
    wait_for_folded,
)
from tests.processors.test_order_free import Reference, reference

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]

START = datetime(2026, 10, 1, tzinfo=UTC)
PRODUCTS = ("p1", "p2", "p3", "p4")
KINDS = ("page_view", "product_view", "cart_add", "cart_remove", "checkout_started", "order_placed")


def customer_history(customer: str, rng: random.Random) -> list[dict[str, Any]]:
    """One customer's events on two devices, in time order."""
    events: list[dict[str, Any]] = []
    minute = rng.randrange(0, 600)
    for visit in range(rng.randrange(2, 6)):
        device = f"{customer}-{rng.choice(['laptop', 'phone'])}"
        session = f"{device}-v{visit}"
        for _ in range(rng.randrange(3, 12)):
            minute += rng.randrange(1, 30)
            kind = rng.choices(KINDS, weights=[5, 4, 3, 1, 1, 1])[0]
            body: dict[str, Any] = {
                "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "type": kind,
                "anonymous_id": device,
                "session_id": session,
                "occurred_at": (START + timedelta(minutes=minute)).isoformat(),
            }
            product = rng.choice(PRODUCTS)
            if kind == "product_view":
                body["properties"] = {"product_id": product, "price": "12.50"}
            elif kind in ("cart_add", "cart_remove"):
                quantity = rng.randrange(1, 3)
                body["properties"] = {"product_id": product, "quantity": quantity}
                body["properties"]["price"] = "12.50"
            elif kind == "order_placed":
                total = str(Decimal(rng.randrange(500, 40_000)) / 100)
                order_id = f"o-{customer}-{minute}"
                body["properties"] = {"order_id": order_id, "total": total, "currency": "EUR"}
            events.append(body)
    for device in sorted({e["anonymous_id"] for e in events}):
        # Each device identifies once, at some point of its history (it may be the first).
        own = [e for e in events if e["anonymous_id"] == device]
        at = rng.choice(own)["occurred_at"]
        identify = {
            "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "type": "identify",
            "anonymous_id": device,
            "customer_id": customer,
            "session_id": own[0]["session_id"],
            "occurred_at": at,
        }
        events.append(identify)
    return sorted(events, key=lambda e: e["occurred_at"])


def truth(events: list[dict[str, Any]]) -> Reference:
    return reference([parse_event(e | {"site_id": "demo"}) for e in events])


def to_minute(value: str) -> datetime:
    """A time as the collector stored it, to the minute. Its clock-skew correction (the
    request's arrival minus its ``sent_at``) moves event times forward by the request's time
    in flight: milliseconds, seconds on a loaded machine. The histories' times are whole
    minutes at least a minute apart, so the minute still tells every event apart."""
    return datetime.fromisoformat(value).replace(second=0, microsecond=0)


def mismatches(stack: Stack, truths: dict[str, Reference]) -> Counter[str]:
    """Per field, the customers whose live profile differs from the ground truth."""
    wrong: Counter[str] = Counter()
    with httpx.Client(base_url=stack.settings.worker_url, timeout=10) as client:
        for customer, ref in truths.items():
            response = client.get(f"/profiles/demo/{customer}")
            if response.status_code != 200:
                wrong["missing"] += 1
                continue
            p = response.json()
            got = {
                "counts": p["counts"],
                "sessions": p["session_count"],
                "orders": p["orders"],
                "revenue": Decimal(p["revenue"]),
                "cart": p["cart"],
                "cart_value": Decimal(p["cart_value"]),
                "first_seen": to_minute(p["first_seen"]),
                "last_seen": to_minute(p["last_seen"]),
                "order_times": [to_minute(t) for t in p["order_times"]],
                "order_hours": p["order_hours"],
            }
            want = {
                "counts": dict(ref.counts),
                "sessions": len(ref.sessions),
                "orders": ref.orders,
                "revenue": ref.revenue,
                "cart": ref.cart,
                "cart_value": ref.cart_value,
                "first_seen": ref.first_seen,
                "last_seen": ref.last_seen,
                "order_times": sorted(ref.order_times)[-24:],
                "order_hours": dict(ref.order_hours),
            }
            wrong.update(name for name in want if got[name] != want[name])
    return wrong


def wait_until_caught_up(stack: Stack, timeout: float = 180) -> None:
    """Until the worker has read every message of its topics (its lag is 0)."""
    group = WorkerSettings(topic_prefix=stack.settings.topic_prefix).app_id
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            prefix = stack.settings.topic_prefix
            lags = asyncio.run(group_lag(stack.settings.bootstrap, [group], prefix))
        except (KafkaError, OSError):  # the broker may be busy: read again
            lags = []
        if lags and all(lag.lag == 0 for lag in lags):  # an empty topic: never committed
            return
        time.sleep(1)
    raise AssertionError("the worker never caught up")


def produce_again(stack: Stack) -> int:
    """Every record of the events topic produced once more, at new offsets."""
    topic = stack.settings.topics.events

    async def run() -> int:
        consumer = AIOKafkaConsumer(bootstrap_servers=stack.settings.bootstrap)
        producer = AIOKafkaProducer(bootstrap_servers=stack.settings.bootstrap, acks="all")
        await consumer.start()
        await producer.start()
        try:
            settings = FootfallSettings(kafka_bootstrap_servers=stack.settings.bootstrap)
            partitions = await topic_partitions(settings, topic)
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            ends = await consumer.end_offsets(partitions)
            records = []
            for tp in partitions:
                while (await consumer.position(tp)) < ends[tp]:
                    batch = await consumer.getmany(tp, timeout_ms=1000)
                    records += [r for rs in batch.values() for r in rs if r.offset < ends[tp]]
            for record in records:
                await producer.send(topic, record.value, key=record.key, partition=record.partition)
            await producer.flush()
            return len(records)
        finally:
            await producer.stop()
            await consumer.stop()

    return asyncio.run(run())


def test_every_figure_matches_the_ground_truth_in_any_order_and_at_new_offsets(
    tmp_path: Path,
) -> None:
    rng = random.Random(14)
    ordered = {f"t{n:03d}": customer_history(f"t{n:03d}", rng) for n in range(60)}
    shuffled = {f"s{n:03d}": customer_history(f"s{n:03d}", rng) for n in range(60)}
    truths = {c: truth(events) for c, events in (ordered | shuffled).items()}
    in_time = sorted((e for es in ordered.values() for e in es), key=lambda e: e["occurred_at"])
    mixed = [e for es in shuffled.values() for e in es]
    rng.shuffle(mixed)
    broker = BrokerKind.kafka if TEST_BROKER is BrokerKind.kafka else TEST_BROKER
    # A broker of its own: on the suite's shared one, hundreds of other stacks' topics made
    # the worker's catch-up slower than the test allows.
    with running_stack(tmp_path, broker, own_broker=True) as (stack, sql):
        # Both logs at once, the worker killed -9 a third of the way through.
        thread, report = send_in_background(stack, [*in_time, *mixed])
        wait_for_folded(sql, len(in_time) * 2 // 3, timeout=180)
        stack.kill("worker")
        stack.restart("worker")
        thread.join(timeout=240)
        assert report.accepted == len(in_time) + len(mixed), report.rejected
        wait_until_caught_up(stack)
        first = mismatches(stack, truths)
        print(f"\nfields wrong after the first pass and kill -9: {dict(first) or 'none'}")
        # The same records again at new offsets, the worker killed -9 half-way through.
        sent = produce_again(stack)
        time.sleep(0.5)
        stack.kill("worker")
        stack.restart("worker")
        wait_until_caught_up(stack)
        again = mismatches(stack, truths)
    print(f"\n{len(truths)} customers, {len(in_time) + len(mixed)} events; {sent} produced again")
    print(f"fields wrong after the replay at new offsets and kill -9: {dict(again) or 'none'}")
    assert not first, first
    assert not again, again
