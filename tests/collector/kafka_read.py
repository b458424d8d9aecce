"""Read every record of a topic (for assertions on what Kafka holds)."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition


async def _read(bootstrap: str, topic: str, idle_s: float) -> list[ConsumerRecord[Any, Any]]:
    """Every record up to the topic's end offsets as they were when asked (so a busy broker
    or a slow first fetch never reads as an empty topic), then any that arrive until none
    did for ``idle_s``."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    records: list[ConsumerRecord[Any, Any]] = []
    try:
        partitions = await _partitions(consumer, topic)
        if not partitions:
            return records
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        behind = set(ends)
        while behind:
            records += _values(await consumer.getmany(timeout_ms=1000))
            behind = {tp for tp in behind if await consumer.position(tp) < ends[tp]}
        while batch := await consumer.getmany(timeout_ms=int(idle_s * 1000)):
            records += _values(batch)
        return records
    finally:
        await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    """All of the topic's partitions, assigned once the broker's metadata names the topic
    (none after 5 s: a topic nobody created)."""
    consumer.subscribe([topic])
    for _ in range(50):
        assigned = consumer.assignment()
        if assigned:
            return sorted(assigned)
        await asyncio.sleep(0.1)
    return []


def _values(
    batch: dict[TopicPartition, list[ConsumerRecord[Any, Any]]],
) -> list[ConsumerRecord[Any, Any]]:
    return [m for messages in batch.values() for m in messages if m.value is not None]


def read_topic(bootstrap: str, topic: str, idle_s: float = 1.5) -> list[dict[str, Any]]:
    """All records of ``topic``, once no new one arrived for ``idle_s`` seconds."""
    return [orjson.loads(m.value) for m in read_records(bootstrap, topic, idle_s)]


def read_records(bootstrap: str, topic: str, idle_s: float = 1.5) -> list[ConsumerRecord[Any, Any]]:
    """All records of ``topic`` as they are (key, value, partition, offset)."""
    return asyncio.run(_read(bootstrap, topic, idle_s))


async def _write(bootstrap: str, topic: str, records: list[tuple[bytes | None, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for key, value in records:
            await producer.send(topic, value, key=key)
        await producer.flush()
    finally:
        await producer.stop()


def write_records(bootstrap: str, topic: str, records: list[tuple[bytes | None, bytes]]) -> None:
    """Produce ``(key, value)`` records in order, acknowledged by the broker."""
    asyncio.run(_write(bootstrap, topic, records))
