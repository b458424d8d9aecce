"""Kafka plumbing shared by the processes: topic creation and producer options."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.codec import has_lz4
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAlreadyExistsError

from footfall.config import BrokerKind, FootfallSettings

log = logging.getLogger(__name__)


class BrokerUnavailable(RuntimeError):
    """Kafka could not be reached within the allowed time."""


async def ensure_topics(settings: FootfallSettings, timeout: float = 30.0) -> list[str]:
    """Create every Footfall topic with explicit partition counts; returns those created.

    Topics that already exist are left as they are: the broker is never relied on to
    auto-create a topic.
    """
    topics = settings.topics
    deadline = asyncio.get_running_loop().time() + timeout
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    while True:
        try:
            await admin.start()
            break
        except KafkaConnectionError as exc:
            if asyncio.get_running_loop().time() > deadline:
                raise BrokerUnavailable(
                    f"Kafka at {settings.kafka_bootstrap_servers} is unreachable: {exc}"
                ) from exc
            await asyncio.sleep(0.5)
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(
                name=name,
                num_partitions=settings.partitions,
                replication_factor=1,
                topic_configs=({"cleanup.policy": "compact"} if name in topics.compacted() else {}),
            )
            for name in topics.all()
            if name not in existing
        ]
        if wanted:
            try:
                await admin.create_topics(wanted)
            except TopicAlreadyExistsError:
                log.info("topics created concurrently by another process")
        return [topic.name for topic in wanted]
    finally:
        await admin.close()


def producer_options(settings: FootfallSettings) -> dict[str, Any]:
    """Options for an aiokafka producer that never loses an acknowledged record."""
    return {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "acks": "all",
        "enable_idempotence": settings.broker_kind is BrokerKind.kafka,
        "compression_type": "lz4" if has_lz4() else "gzip",
        "linger_ms": 5,
        "request_timeout_ms": 10_000,
    }


async def start_producer(settings: FootfallSettings, **overrides: Any) -> AIOKafkaProducer:
    producer = AIOKafkaProducer(**(producer_options(settings) | overrides))
    try:
        await producer.start()
    except KafkaError as exc:
        await producer.stop()
        raise BrokerUnavailable(
            f"Kafka at {settings.kafka_bootstrap_servers} is unreachable: {exc}"
        ) from exc
    return producer
