"""Consumer lag arithmetic, its Prometheus output and the status-line text (no broker)."""

from __future__ import annotations

import asyncio
import time

from prometheus_client import CollectorRegistry, generate_latest

from base.lag import (
    LagCollector,
    LagMonitor,
    LagReading,
    PartitionLag,
    lag_of,
    lag_summary,
    partition_lags,
    total_lag,
)
from footfall.stack import free_port


def test_lag_is_the_high_watermark_minus_the_committed_offset() -> None:
    assert lag_of(committed=40, start_offset=0, end_offset=100) == 60
    assert lag_of(committed=100, start_offset=0, end_offset=100) == 0


def test_without_a_commit_the_group_reads_from_the_log_start() -> None:
    assert lag_of(committed=None, start_offset=0, end_offset=100) == 100
    assert lag_of(committed=None, start_offset=30, end_offset=100) == 70  # 30 removed


def test_a_commit_before_the_log_start_counts_from_the_log_start() -> None:
    assert lag_of(committed=10, start_offset=30, end_offset=100) == 70


def test_a_commit_past_the_end_is_no_backlog() -> None:
    assert lag_of(committed=120, start_offset=0, end_offset=100) == 0


def test_every_partition_of_a_topic_the_group_committed_on_is_reported() -> None:
    committed = {("events", 0): 4, ("events", 2): -1}
    starts = {("events", 0): 0, ("events", 1): 2, ("events", 2): 0, ("other", 0): 0}
    ends = {("events", 0): 10, ("events", 1): 9, ("events", 2): 5, ("other", 0): 50}
    rows = partition_lags("sink", committed, starts, ends)
    assert rows == [
        PartitionLag("sink", "events", 0, 4, 0, 10, 6),
        PartitionLag("sink", "events", 1, None, 2, 9, 7),  # no commit: from the log start
        PartitionLag("sink", "events", 2, None, 0, 5, 5),  # -1 is Kafka's "none"
    ]
    assert total_lag(rows, ["sink"]) == 18
    assert total_lag(rows, ["worker"]) == 0


def reading(*rows: PartitionLag, age_s: float = 0.0) -> LagReading:
    return LagReading(rows, time.time() - age_s, 0.02)


GROUPS = {"worker": ["w"], "sink": ["s"], "webhooks": ["h", "h-retry"]}


def test_the_summary_sums_each_process_over_its_groups() -> None:
    now = reading(
        PartitionLag("s", "events", 0, 3, 0, 10, 7),
        PartitionLag("s", "events", 1, 0, 0, 5, 5),
        PartitionLag("h-retry", "retry", 0, 0, 0, 1_200, 1_200),
    )
    text = lag_summary(GROUPS, now, time.time(), stale_after_s=20)
    assert text == "lag: worker 0 · sink 12 · webhooks 1,200"


def test_an_old_reading_is_not_shown_as_the_lag() -> None:
    old = reading(PartitionLag("s", "events", 0, 3, 0, 10, 7), age_s=30)
    text = lag_summary(GROUPS, old, time.time(), 20, "KafkaConnectionError: refused")
    assert text == "lag: no reading for 30s (KafkaConnectionError: refused)"
    assert lag_summary(GROUPS, None, time.time(), 20) == "lag: not read yet"


def test_metrics_show_the_last_reading_per_group_and_partition() -> None:
    monitor = LagMonitor("127.0.0.1:1", ["s", "w"])
    monitor.latest = reading(
        PartitionLag("s", "events", 0, 4, 0, 10, 6),
        PartitionLag("s", "events", 1, None, 0, 3, 3),
        PartitionLag("w", "events", 0, 10, 0, 10, 0),
    )
    monitor.errors["KafkaConnectionError"] = 2
    registry = CollectorRegistry()
    registry.register(LagCollector(monitor))
    lines = generate_latest(registry).decode().splitlines()
    assert 'footfall_consumer_lag{group="s",partition="0",topic="events"} 6.0' in lines
    assert 'footfall_consumer_lag{group="s",partition="1",topic="events"} 3.0' in lines
    assert 'footfall_consumer_lag{group="w",partition="0",topic="events"} 0.0' in lines
    assert 'footfall_consumer_committed_offset{group="s",partition="0",topic="events"} 4.0' in lines
    assert not any(
        line.startswith('footfall_consumer_committed_offset{group="s",partition="1"')
        for line in lines
    )
    ends = [line for line in lines if line.startswith("footfall_topic_end_offset{")]
    assert ends == [
        'footfall_topic_end_offset{partition="0",topic="events"} 10.0',
        'footfall_topic_end_offset{partition="1",topic="events"} 3.0',
    ]
    assert 'footfall_consumer_lag_read_errors_total{error="KafkaConnectionError"} 2.0' in lines


def test_a_broker_that_does_not_answer_is_counted_not_raised() -> None:
    monitor = LagMonitor(f"127.0.0.1:{free_port()}", ["s"], interval_s=0.05, timeout_s=2)

    async def two_readings() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(monitor.run(stop))
        while sum(monitor.errors.values()) < 2 and not task.done():
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(task, 5)

    asyncio.run(asyncio.wait_for(two_readings(), 20))
    assert sum(monitor.errors.values()) >= 2
    assert monitor.latest is None
    assert monitor.last_error is not None
