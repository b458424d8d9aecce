"""Exact profiles on the real stack through kill -9 and partitions moving between workers.

Customers browse on two devices, anonymously at first; every device identifies at some point.
The ground truth per customer is computed from the events sent, independently of the worker.
These are the worker kill -9 tests of the suite (on both brokers); the sink's crash test is in
``tests/integration/test_crash_recovery.py``.
"""

from __future__ import annotations

import random
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from base.config import BrokerKind
from base.sqlclient import SqlClient
from footfall.demo.report import progress, wait_until_queryable
from footfall.stack import free_port
from tests.integration.test_crash_recovery import (
    holes_logged,
    log_size,
    running_stack,
    send_in_background,
    stored_profiles,
    wait_for_folded,
)

pytestmark = [pytest.mark.integration]

Truth = dict[str, tuple[int, int, Decimal]]


def two_device_events(customers: int, total: int, seed: int) -> tuple[list[dict[str, Any]], Truth]:
    """Events of customers on two devices each, and the profile each customer must end with."""
    rng = random.Random(seed)
    start = datetime(2026, 10, 1, tzinfo=UTC)
    identified: set[str] = set()
    events: list[dict[str, Any]] = []
    truth: dict[str, list[Any]] = defaultdict(lambda: [0, 0, Decimal(0)])
    for n in range(total):
        customer = f"c{rng.randrange(customers):03d}"
        device = f"{customer}-{rng.choice(['laptop', 'phone'])}"
        kind = rng.choice(["page_view", "product_view", "click", "order_placed"])
        if device not in identified and rng.random() < 0.3:
            kind = "identify"
        event: dict[str, Any] = {
            "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "type": kind,
            "anonymous_id": device,
            "session_id": f"s-{device}-{n // 200}",
            "occurred_at": (start + timedelta(seconds=n)).isoformat(),
        }
        if kind == "identify" or (device in identified and rng.random() < 0.5):
            event["customer_id"] = customer
            identified.add(device)
        if kind == "product_view":
            event["properties"] = {"product_id": f"p{rng.randrange(20)}", "price": "9.90"}
        if kind == "order_placed":
            amount = Decimal(rng.randrange(100, 50_000)) / 100
            event["properties"] = {"order_id": f"o{n}", "total": str(amount), "currency": "EUR"}
            truth[customer][1] += 1
            truth[customer][2] += amount
        truth[customer][0] += 1
        events.append(event)
    for device in sorted({e["anonymous_id"] for e in events} - identified):
        # Every device identifies in the end, so its history has one owner.
        customer = device.rsplit("-", 1)[0]
        events.append(
            {
                "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "type": "identify",
                "anonymous_id": device,
                "customer_id": customer,
                "occurred_at": (start + timedelta(seconds=total)).isoformat(),
            }
        )
        truth[customer][0] += 1
    return events, {c: (n, orders, revenue) for c, (n, orders, revenue) in truth.items()}


def folded(sql: SqlClient) -> int:
    return progress(sql).profile_events


def settle(sql: SqlClient, events: list[dict[str, Any]], truth: Truth) -> None:
    wait_until_queryable(sql, len(events), timeout=240)
    deadline = time.monotonic() + 60
    while stored_profiles(sql) != truth and time.monotonic() < deadline:
        time.sleep(1)  # the last merges' snapshots may trail the event counts
    assert stored_profiles(sql) == truth


@pytest.mark.timeout(420)
def test_kill_9_of_the_worker_mid_stream_keeps_every_profile_exact_on_tansu(
    tmp_path: Path,
) -> None:
    """On Tansu, where a restarted worker meets holes; on Apache Kafka the worker's kill -9
    mid-stream is in ``tests/integration/test_ground_truth.py``, against every figure."""
    any_broker = BrokerKind.tansu
    events, truth = two_device_events(customers=120, total=5000, seed=61)
    with running_stack(tmp_path, any_broker) as (stack, sql):
        thread, report = send_in_background(stack, events)
        wait_for_folded(sql, 1600, timeout=180)
        stack.kill("worker")
        restarted_log = log_size(stack, "worker")
        stack.restart("worker")
        thread.join(timeout=240)
        assert not thread.is_alive()
        assert report.accepted == len(events)
        settle(sql, events, truth)
        holes = holes_logged(stack, "worker", restarted_log)
        print(f"{any_broker.value}: {holes} holes rewound after the worker's restart")


@pytest.mark.timeout(360)
def test_partitions_moving_between_two_workers_keep_every_profile_exact(tmp_path: Path) -> None:
    """On Apache Kafka; the commit contract under a rebalance runs on both brokers in
    ``tests/processors/test_commit_contract.py``."""
    any_broker = BrokerKind.kafka
    events, truth = two_device_events(customers=80, total=3500, seed=62)
    with running_stack(tmp_path, any_broker) as (stack, sql):
        thread, report = send_in_background(stack, events)
        wait_for_folded(sql, 1200, timeout=180)
        second = stack.add_worker("worker-2", free_port())  # partitions move to it
        wait_for_folded(sql, folded(sql) + 900, timeout=180)
        stack.kill("worker")  # and back again, after a crash
        thread.join(timeout=240)
        assert not thread.is_alive()
        assert report.accepted == len(events)
        assert second.alive()
        settle(sql, events, truth)
