"""Crashes lose nothing that was acknowledged and count nothing twice."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from base.config import BrokerKind
from base.sqlclient import SqlClient
from footfall.brokers import BrokerError, choose_kind
from footfall.demo.report import progress, wait_until_queryable
from footfall.demo.sender import SendReport, send_all
from footfall.stack import Stack
from tests.conftest import BOTH_BROKERS, stack_settings_for
from tests.integration.test_end_to_end import synthetic_events

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]

SKIPPED = "were skipped by the consumer"
"""What the worker logs when the continuity guard finds a hole and rewinds."""


@contextmanager
def running_stack(
    tmp_path: Path, broker: BrokerKind, own_broker: bool = False
) -> Iterator[tuple[Stack, SqlClient]]:
    """The whole stack on ``broker`` and an SQL client, both closed afterwards; a broker this
    machine cannot run skips the test. ``own_broker``: one the test may stop or kill."""
    try:
        choose_kind(broker.value)
    except BrokerError as exc:
        pytest.skip(str(exc))
    with Stack(stack_settings_for(tmp_path, own_broker, broker=broker.value)) as stack:
        stack.start()
        sql = SqlClient(stack.settings.sink_url, stack.settings.admin_token)
        try:
            yield stack, sql
        finally:
            sql.close()


def log_size(stack: Stack, name: str) -> int:
    path = stack.child(name).log_path
    return path.stat().st_size if path is not None and path.exists() else 0


def holes_logged(stack: Stack, name: str, since: int = 0) -> int:
    """Rewinds child ``name`` logged after byte ``since`` of its log: printed as a figure,
    not asserted (the guard exists because the consumer skips messages)."""
    path = stack.child(name).log_path
    if path is None or not path.exists():
        return 0
    with path.open("rb") as log:
        log.seek(since)
        return log.read().decode(errors="replace").count(SKIPPED)


def ground_truth(events: list[dict[str, Any]]) -> dict[str, tuple[int, int, Decimal]]:
    truth: dict[str, list[Any]] = defaultdict(lambda: [0, 0, Decimal(0)])
    for event in events:
        entry = truth[event["customer_id"]]
        entry[0] += 1
        if event["type"] == "order_placed":
            entry[1] += 1
            entry[2] += Decimal(event["properties"]["total"])
    return {key: (n, orders, revenue) for key, (n, orders, revenue) in truth.items()}


def stored_profiles(sql: SqlClient) -> dict[str, tuple[int, int, Decimal]]:
    rows = sql.rows(
        "SELECT profile_id, event_count, orders, toString(revenue) AS revenue "
        "FROM profiles FINAL WHERE merged_into = ''"
    )
    return {
        r["profile_id"]: (int(r["event_count"]), int(r["orders"]), Decimal(r["revenue"]))
        for r in rows
    }


def send_in_background(
    stack: Stack,
    events: list[dict[str, Any]],
    on_progress: Callable[[int], None] = lambda _: None,
) -> tuple[threading.Thread, SendReport]:
    """Post ``events`` from a thread, 503s retried; the report is filled in at the end."""
    report = SendReport()

    def run() -> None:
        result = asyncio.run(
            send_all(
                stack.settings.collector_url,
                [("demo-secret-key", events)],
                batch_size=25,
                concurrency=2,
                on_progress=on_progress,
            )
        )
        report.__dict__.update(result.__dict__)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, report


def wait_for_folded(sql: SqlClient, at_least: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while progress(sql).profile_events < at_least:
        assert time.monotonic() < deadline, f"fewer than {at_least} events folded in {timeout}s"
        time.sleep(0.2)


def engine_processes(stack: Stack) -> list[int]:
    """PIDs of engine processes serving this stack's embedded store."""
    store = stack.settings.store_dsn.encode()
    found = []
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes() if entry.name.isdigit() else b""
        except OSError:  # ended while we looked
            continue
        if b"sinks.engine" in command and store in command:
            found.append(int(entry.name))
    return found


@BOTH_BROKERS
def test_sink_killed_mid_stream_stores_each_event_once(
    tmp_path: Path, any_broker: BrokerKind
) -> None:
    with running_stack(tmp_path, any_broker) as (stack, sql):
        sink_killed_mid_stream(stack, sql)


def sink_killed_mid_stream(stack: Stack, sql: SqlClient) -> None:
    events = synthetic_events(customers=40, total=4000, seed=22)
    thread, report = send_in_background(stack, events)
    deadline = time.monotonic() + 120
    while progress(sql).events < 1500:
        assert time.monotonic() < deadline
        time.sleep(0.1)

    assert len(engine_processes(stack)) == 1  # the sink's own ClickHouse engine process
    stack.kill("sink")
    deadline = time.monotonic() + 30
    while engine_processes(stack):  # it ends with the sink and lets go of the store
        assert time.monotonic() < deadline, "the engine process outlived the killed sink"
        time.sleep(0.1)
    stack.restart("sink")
    thread.join(timeout=180)
    assert report.accepted == len(events)
    wait_until_queryable(sql, len(events), timeout=180)
    assert sql.scalar("SELECT count() FROM events") == len(events)
    assert sql.scalar("SELECT uniqExact(event_id) FROM events") == len(events)
    assert stored_profiles(sql) == ground_truth(events)
