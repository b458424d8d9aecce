"""Read every record of a topic (for assertions on what Kafka holds)."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord


async def _read(bootstrap: str, topic: str, idle_s: float) -> list[ConsumerRecord[Any, Any]]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    records: list[ConsumerRecord[Any, Any]] = []
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=int(idle_s * 1000))
            if not batch:
                return records
            for messages in batch.values():
                records += [m for m in messages if m.value is not None]
    finally:
        await consumer.stop()


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
