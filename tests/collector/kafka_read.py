"""Read every record of a topic (for assertions on what Kafka holds)."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer


async def _read(bootstrap: str, topic: str, idle_s: float) -> list[dict[str, Any]]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    records: list[dict[str, Any]] = []
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=int(idle_s * 1000))
            if not batch:
                return records
            for messages in batch.values():
                records += [orjson.loads(m.value) for m in messages if m.value is not None]
    finally:
        await consumer.stop()


def read_topic(bootstrap: str, topic: str, idle_s: float = 1.5) -> list[dict[str, Any]]:
    """All records of ``topic``, once no new one arrived for ``idle_s`` seconds."""
    return asyncio.run(_read(bootstrap, topic, idle_s))
