"""What the pinned Apache Kafka must do with aiokafka 0.14 for Footfall to trust it.

Idempotent produce, transactions, admin (CreateTopics with partitions and configs), consumer
groups sharing and handing over partitions, and compaction of the profiles topic, each against
the real broker that ``deploy/kafka/pom.xml`` pins. Faust's own rebalances are exercised by the
two-worker exactness test.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from base.config import BrokerKind
from footfall.brokers import BrokerProcess, KafkaBroker, free_port, kafka_version
from tests.conftest import TEST_BROKER

pytestmark = [
    pytest.mark.integration,
    pytest.mark.timeout(180),
    pytest.mark.skipif(TEST_BROKER is not BrokerKind.kafka, reason="needs Apache Kafka"),
]


@pytest.fixture(scope="module")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("compat")
    # The cleaner looks for work every half second instead of every 15 s, so the test is short.
    broker = KafkaBroker(
        home / "kafka", free_port(), free_port(), extra={"log.cleaner.backoff.ms": "500"}
    )
    with BrokerProcess(broker, home / "broker.log") as running:
        yield running.bootstrap


def test_the_pinned_version_is_installed() -> None:
    version = kafka_version()
    assert version is not None
    assert version.split(".")[0] == "4"


async def create(bootstrap: str, topic: NewTopic) -> dict[str, str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([topic])
        described = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic.name)]
        )
        entries = described[0].resources[0][4]
        return {entry[0]: entry[1] for entry in entries}
    finally:
        await admin.close()


def test_idempotent_and_transactional_produce(kafka: str) -> None:
    async def run() -> tuple[list[bytes], int]:
        await create(kafka, NewTopic("compat.tx", 2, 1))
        idempotent = AIOKafkaProducer(bootstrap_servers=kafka, enable_idempotence=True)
        await idempotent.start()
        try:
            await idempotent.send_and_wait("compat.tx", b"plain", partition=0)
            producer_id = idempotent._txn_manager.producer_id
        finally:
            await idempotent.stop()
        tx = AIOKafkaProducer(bootstrap_servers=kafka, transactional_id="compat")
        await tx.start()
        try:
            async with tx.transaction():
                await tx.send_and_wait("compat.tx", b"committed", partition=0)
            await tx.begin_transaction()
            await tx.send_and_wait("compat.tx", b"aborted", partition=0)
            await tx.abort_transaction()
        finally:
            await tx.stop()
        reader = AIOKafkaConsumer(
            bootstrap_servers=kafka,
            isolation_level="read_committed",
            auto_offset_reset="earliest",
        )
        await reader.start()
        try:
            tp = TopicPartition("compat.tx", 0)
            reader.assign([tp])
            got = await reader.getmany(tp, timeout_ms=5000)
            return [record.value for record in got.get(tp, [])], producer_id
        finally:
            await reader.stop()

    values, producer_id = asyncio.run(run())
    assert producer_id >= 0, "the broker handed out a producer id (InitProducerId)"
    assert values == [b"plain", b"committed"]


def test_topics_are_created_with_their_partitions_and_configs(kafka: str) -> None:
    configs = asyncio.run(
        create(kafka, NewTopic("compat.compact", 3, 1, topic_configs={"cleanup.policy": "compact"}))
    )
    assert configs["cleanup.policy"] == "compact"


def test_a_group_shares_partitions_and_hands_them_over(kafka: str) -> None:
    async def run() -> tuple[set[int], set[int], set[int]]:
        await create(kafka, NewTopic("compat.group", 4, 1))

        def member() -> AIOKafkaConsumer:
            return AIOKafkaConsumer(
                "compat.group",
                bootstrap_servers=kafka,
                group_id="compat",
                session_timeout_ms=6000,
                heartbeat_interval_ms=500,
            )

        async def assignment(*consumers: AIOKafkaConsumer, total: int) -> list[set[int]]:
            deadline = time.monotonic() + 30
            while True:
                await asyncio.gather(*(c.getmany(timeout_ms=200) for c in consumers))
                parts = [{tp.partition for tp in c.assignment()} for c in consumers]
                if sum(len(p) for p in parts) == total and all(parts):
                    return parts
                assert time.monotonic() < deadline, f"no stable assignment: {parts}"

        first, second = member(), member()
        await first.start()
        (alone,) = await assignment(first, total=4)
        await second.start()
        shared_first, shared_second = await assignment(first, second, total=4)
        await first.stop()
        (handed,) = await assignment(second, total=4)
        await second.stop()
        assert shared_first.isdisjoint(shared_second)
        return alone, shared_first | shared_second, handed

    alone, shared, handed = asyncio.run(run())
    assert alone == shared == handed == {0, 1, 2, 3}


def test_the_compacted_topic_keeps_the_last_value_per_key(kafka: str) -> None:
    topic = NewTopic(
        "compat.profiles",
        1,
        1,
        topic_configs={
            "cleanup.policy": "compact",
            "segment.ms": "200",
            "min.cleanable.dirty.ratio": "0.01",
            "delete.retention.ms": "100",
        },
    )

    async def run() -> list[tuple[bytes, bytes]]:
        await create(kafka, topic)
        producer = AIOKafkaProducer(bootstrap_servers=kafka, enable_idempotence=True)
        await producer.start()
        try:
            for version in range(50):
                for key in (b"a", b"b"):
                    await producer.send_and_wait(topic.name, b"%d" % version, key=key)
            deadline = time.monotonic() + 60
            while True:  # new segments roll only when records arrive after segment.ms
                await asyncio.sleep(0.5)
                await producer.send_and_wait(topic.name, b"last", key=b"c")
                kept = await read_all(kafka, topic.name)
                if len(kept) < 20 or time.monotonic() > deadline:
                    return kept
        finally:
            await producer.stop()

    kept = asyncio.run(run())
    assert len(kept) < 20, "the cleaner never compacted the topic"
    last = dict(kept)
    assert last[b"a"] == b"49"
    assert last[b"b"] == b"49"


async def read_all(bootstrap: str, topic: str) -> list[tuple[bytes, bytes]]:
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await reader.start()
    try:
        tp = TopicPartition(topic, 0)
        reader.assign([tp])
        end = (await reader.end_offsets([tp]))[tp]
        found: list[tuple[bytes, bytes]] = []
        while await reader.position(tp) < end:
            got = await reader.getmany(tp, timeout_ms=1000)
            found += [(r.key, r.value) for r in got.get(tp, []) if r.key and r.value]
        return found
    finally:
        await reader.stop()
