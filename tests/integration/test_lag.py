"""Consumer lag on the real broker: what group_lag, the processes' /metrics and the status
line report is the high watermark minus what the group committed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic, RecordsToDelete
from prometheus_client.parser import text_string_to_metric_families

from base.config import BrokerKind
from base.lag import LagWatch, PartitionLag, group_lag, total_lag
from base.sqlclient import SqlClient
from footfall.brokers import start_broker
from footfall.cli import consumer_groups, stack_lag
from footfall.stack import Stack
from tests.collector.events import page_view
from tests.conftest import TEST_BROKER

pytestmark = pytest.mark.integration

T = TypeVar("T")


def eventually(read: Callable[[], T], ok: Callable[[T], bool], timeout_s: float = 40) -> T:
    """Read until ``ok`` holds (the monitors refresh every few seconds); the last value is
    returned either way, for the assertion to show."""
    deadline = time.monotonic() + timeout_s
    value = read()
    while not ok(value) and time.monotonic() < deadline:
        time.sleep(0.5)
        value = read()
    return value


async def produce_and_commit(bootstrap: str, topic: str, group: str) -> None:
    """25 records on partition 0, 7 on partition 1; ``group`` commits 10 on partition 0."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for partition, count in ((0, 25), (1, 7)):
            for n in range(count):  # one record per batch: Tansu's high watermark is right
                await producer.send_and_wait(topic, b"%d" % n, partition=partition)
    finally:
        await producer.stop()
    await commit(bootstrap, group, TopicPartition(topic, 0), 10)


async def commit(bootstrap: str, group: str, tp: TopicPartition, offset: int) -> None:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign([tp])
        await consumer.commit({tp: offset})
    finally:
        await consumer.stop()


async def delete_before(bootstrap: str, tp: TopicPartition, offset: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_records({tp: RecordsToDelete(offset)})
    finally:
        await admin.close()


@pytest.mark.timeout(180)
def test_group_lag_is_the_high_watermark_minus_the_committed_offset(tmp_path: Path) -> None:
    topic, group = "lag.test", "lag-test-group"
    with start_broker(TEST_BROKER, tmp_path) as broker:
        asyncio.run(produce_and_commit(broker.bootstrap, topic, group))
        rows = asyncio.run(group_lag(broker.bootstrap, [group, "no-such-group"]))
        assert rows == [
            PartitionLag(group, topic, 0, committed=10, start_offset=0, end_offset=25, lag=15),
            # never committed: counted from the log start
            PartitionLag(group, topic, 1, committed=None, start_offset=0, end_offset=7, lag=7),
        ]
        if TEST_BROKER is BrokerKind.kafka:  # Tansu has no DeleteRecords
            asyncio.run(delete_before(broker.bootstrap, TopicPartition(topic, 1), 3))
            rows = asyncio.run(group_lag(broker.bootstrap, [group]))
            assert rows[1] == PartitionLag(group, topic, 1, None, 3, 7, lag=4)
        asyncio.run(commit(broker.bootstrap, group, TopicPartition(topic, 0), 25))
        rows = asyncio.run(group_lag(broker.bootstrap, [group]))
        assert [row.lag for row in rows] == [0, rows[1].lag]
        # Another application's topics on the same broker are not asked about.
        assert asyncio.run(group_lag(broker.bootstrap, [group], topic_prefix="other.")) == []
        assert len(asyncio.run(group_lag(broker.bootstrap, [group], topic_prefix="lag."))) == 2


def send(stack: Stack, count: int, prefix: str) -> None:
    batch = [page_view(f"{prefix}-{n}") for n in range(count)]
    answer = httpx.post(
        f"{stack.settings.collector_url}/v1/batch",
        json={"batch": batch},
        headers={"Authorization": "Bearer demo-secret-key"},  # httpx's agent is a bot's
        timeout=10,
    )
    assert answer.json()["accepted"] == count


def scraped(url: str) -> dict[tuple[str, str, str, str], float]:
    """``/metrics`` lag samples as {(metric, group, topic, partition): value}."""
    text = httpx.get(f"{url}/metrics", timeout=5).text
    found = {}
    for family in text_string_to_metric_families(text):
        if family.name in ("footfall_consumer_lag", "footfall_consumer_committed_offset"):
            for sample in family.samples:
                labels = sample.labels
                key = (family.name, labels["group"], labels["topic"], labels["partition"])
                found[key] = sample.value
    return found


def on_topic(samples: dict[tuple[str, str, str, str], float], metric: str, topic: str) -> float:
    return sum(v for (name, _, t, _), v in samples.items() if name == metric and t == topic)


@pytest.mark.timeout(300)
@pytest.mark.skipif(
    TEST_BROKER is BrokerKind.tansu,
    reason="Tansu reports the end offset of a batch of several records as its base offset + 1",
)
def test_a_stopped_sink_shows_its_backlog_and_catches_up(stack: Stack, sql: SqlClient) -> None:
    settings = stack.settings
    events = settings.topics.events
    groups = consumer_groups(settings.topic_prefix)
    sink, worker = groups["sink"][0], groups["worker"][0]
    every_group = [group for ids in groups.values() for group in ids]

    def lag_now() -> list[PartitionLag]:
        return asyncio.run(group_lag(settings.bootstrap, every_group, settings.topic_prefix))

    def sink_events_lag(rows: list[PartitionLag]) -> int:
        return sum(r.lag for r in rows if r.group == sink and r.topic == events)

    def sink_read_all(rows: list[PartitionLag]) -> int:
        return sum(r.end_offset for r in rows if r.group == sink and r.topic == events)

    send(stack, 30, "first")
    eventually(lambda: sql.scalar("SELECT count() FROM events"), lambda n: n == 30)

    # A group shows lag only on partitions it has committed on: the rows land in the store
    # before the sink's first commit, so that commit is waited for too.
    rows = eventually(
        lag_now, lambda rows: total_lag(rows, every_group) == 0 and sink_read_all(rows) == 30
    )
    assert total_lag(rows, every_group) == 0, [r for r in rows if r.lag]
    assert sink_read_all(rows) == 30

    # The running sink and worker serve the same figures, read in the background.
    sink_metrics = eventually(
        lambda: scraped(settings.sink_url),
        lambda s: on_topic(s, "footfall_consumer_committed_offset", events) == 30,
    )
    assert on_topic(sink_metrics, "footfall_consumer_committed_offset", events) == 30
    assert on_topic(sink_metrics, "footfall_consumer_lag", events) == 0
    assert {group for (_, group, _, _) in sink_metrics} == {sink}
    worker_metrics = eventually(
        lambda: scraped(settings.worker_url),
        lambda s: on_topic(s, "footfall_consumer_committed_offset", events) == 30,
    )
    assert on_topic(worker_metrics, "footfall_consumer_lag", events) == 0
    assert {group for (_, group, _, _) in worker_metrics} == {worker}
    identity = httpx.get(f"{settings.worker_url}/identity/s1/first-0", timeout=5)
    assert identity.status_code == 200  # the worker's own views still answer

    stack.kill("sink")
    send(stack, 12, "second")
    rows = eventually(lag_now, lambda rows: sink_events_lag(rows) == 12)
    assert sink_events_lag(rows) == 12
    assert sum(r.committed or 0 for r in rows if r.group == sink and r.topic == events) == 30

    def shown_and_expected(watch: LagWatch) -> tuple[str, str]:
        """The status line's text and the one a fresh reading gives (the sink's lag keeps
        growing a little while the worker sends the profiles and journeys it made)."""
        rows = lag_now()
        totals = [f"{name} {total_lag(rows, ids):,}" for name, ids in groups.items()]
        return watch.summary(), "lag: " + " · ".join(totals)

    with stack_lag(settings) as watch:  # what `footfall up` shows
        shown, expected = eventually(lambda: shown_and_expected(watch), lambda p: p[0] == p[1])
        assert shown == expected
        sink_shown = int(shown.split("sink ")[1].split(" ")[0].replace(",", ""))
        assert sink_shown >= 12  # the events it missed, and the worker's records since

    stack.restart("sink")
    rows = eventually(lag_now, lambda rows: total_lag(rows, [sink]) == 0)
    assert total_lag(rows, [sink]) == 0
    sink_metrics = eventually(
        lambda: scraped(settings.sink_url),
        lambda s: on_topic(s, "footfall_consumer_committed_offset", events) == 42,
    )
    assert on_topic(sink_metrics, "footfall_consumer_committed_offset", events) == 42
    assert on_topic(sink_metrics, "footfall_consumer_lag", events) == 0
