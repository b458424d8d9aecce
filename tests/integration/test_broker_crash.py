"""``kill -9`` of Apache Kafka under load: no acknowledged event is lost or counted twice.

The one-node broker acknowledges a produce (``acks=all``) once the records are written to its
log files, which sit in the operating system's page cache until the kernel writes them out;
Kafka does not fsync by default (``kafka_properties`` sets no ``log.flush.*``). A killed JVM
does not take the page cache with it, so the broker restarted on the same log dir finds every
record it acknowledged, and every committed offset. That is what this test proves; a power
cut or a kernel crash could still lose what the kernel had not yet written out, and it does
not claim otherwise.

Clients keep posting through the outage: the collector answers 503 with ``Retry-After`` while
Kafka does not acknowledge, and the sender retries those batches until they get a 2xx. Every
process of the stack must live through the outage (the stack stops when a child dies).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from base.config import BrokerKind
from base.sqlclient import SqlClient
from footfall.demo.report import progress, wait_until_queryable
from footfall.stack import Stack
from tests.integration.test_crash_recovery import (
    ground_truth,
    running_stack,
    send_in_background,
)
from tests.integration.test_end_to_end import synthetic_events
from tests.processors.test_exactness_stack import settle

pytestmark = [pytest.mark.integration, pytest.mark.timeout(480)]

OUTAGE_S = 8.0
"""How long the broker stays dead: past the collector's produce deadline (5 s), so requests
in flight at the kill are answered 503 and retried."""


def stored_ids(sql: SqlClient) -> Counter[str]:
    """How many rows each event id has in ``events``, as inserted (no FINAL, no merge)."""
    rows = sql.rows("SELECT toString(event_id) AS id FROM events")
    return Counter(row["id"] for row in rows)


def dead_children(stack: Stack) -> list[str]:
    return [f"{child.name}: {stack.tail(child, 5)}" for child in stack.dead()]


def test_kill_9_of_kafka_under_load_loses_and_doubles_no_acknowledged_event(
    tmp_path: Path,
) -> None:
    events = synthetic_events(customers=60, total=5000, seed=31)
    sent = [0]
    midway = threading.Event()

    def count(n: int) -> None:
        sent[0] += n
        if sent[0] >= len(events) // 3:
            midway.set()

    with running_stack(tmp_path, BrokerKind.kafka, own_broker=True) as (stack, sql):
        thread, report = send_in_background(stack, events, on_progress=count)
        assert midway.wait(120), "a third of the load was not acknowledged in 120s"
        before = progress(sql)
        stack.kill("broker")  # kill -9 of the JVM
        killed_at = time.monotonic()
        time.sleep(OUTAGE_S)
        assert [c.name for c in stack.dead()] == ["broker"], dead_children(stack)
        stack.restart("broker")  # same log dir
        back_s = time.monotonic() - killed_at
        thread.join(timeout=300)
        assert not thread.is_alive(), "the clients did not finish sending"
        sent_after = sent[0]
        print(
            f"kill -9 at {before.events} stored / {before.profile_events} folded events; "
            f"broker answering again {back_s:.1f}s later; clients retried {report.retries} "
            f"requests (503 or no answer)"
        )
        # Every event got a 2xx in the end: the acknowledged events are all of them.
        assert report.accepted == len(events) == sent_after

        try:
            wait_until_queryable(sql, len(events), timeout=180)
        except TimeoutError as exc:
            print(exc)  # the events missing are counted and asserted next
        ids = stored_ids(sql)
        lost = {event["event_id"] for event in events} - ids.keys()
        doubled = sum(n - 1 for n in ids.values())
        print(f"acknowledged {len(events)}; lost {len(lost)}; stored twice {doubled}")
        assert (len(lost), doubled) == (0, 0)
        assert report.retries > 0, "the clients never saw the outage"
        assert ids.keys() == {event["event_id"] for event in events}
        assert sql.scalar("SELECT count() FROM events") == len(events)
        settle(sql, events, ground_truth(events))  # per customer: events, orders, revenue
        assert not stack.dead(), dead_children(stack)
