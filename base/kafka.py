"""Kafka plumbing shared by the processes: topic creation and producer options."""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.codec import has_lz4
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAlreadyExistsError
from aiokafka.helpers import create_ssl_context

from base.config import BrokerKind, FootfallSettings

log = logging.getLogger(__name__)


class BrokerUnavailable(RuntimeError):
    """Kafka could not be reached, or did not acknowledge, within the allowed time: the one
    error for "Kafka is down" (the collector answers it with 503 and ``Retry-After``)."""


REQUEST_ID_HEADER = "footfall-request-id"
"""The Kafka header carrying the collector's request id (``X-Request-ID``) to every consumer."""


async def ensure_topics(
    settings: FootfallSettings, timeout: float = 30.0, extra: Sequence[NewTopic] = ()
) -> list[str]:
    """Create every Footfall topic with explicit partition counts, and the ``extra`` ones;
    returns those created.

    Topics that already exist are left as they are: the broker is never relied on to
    auto-create a topic. A created topic is returned only once the broker's metadata lists
    every partition of it with a leader: Apache Kafka answers CreateTopics a moment before,
    and a consumer group that assigns partitions in that moment leaves the topic out.
    """
    topics = settings.topics
    deadline = asyncio.get_running_loop().time() + timeout
    admin = AIOKafkaAdminClient(**client_options(settings))
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
                topic_configs=topic_config(settings, name),
            )
            for name in topics.all()
            if name not in existing
        ]
        wanted += [topic for topic in extra if topic.name not in existing]
        if wanted:
            try:
                await admin.create_topics(wanted)
            except TopicAlreadyExistsError:
                log.info("topics created concurrently by another process")
        while wanted and not all_led(await admin.describe_topics([t.name for t in wanted]), wanted):
            if asyncio.get_running_loop().time() > deadline:
                raise BrokerUnavailable(
                    f"Kafka at {settings.kafka_bootstrap_servers} created "
                    f"{', '.join(t.name for t in wanted)} but does not list them with leaders"
                )
            await asyncio.sleep(0.1)
        await keep_raw_retention(admin, settings, existing)
        return [topic.name for topic in wanted]
    finally:
        await admin.close()


def topic_config(settings: FootfallSettings, name: str) -> dict[str, str]:
    """The configuration a Footfall topic is created with. Pure."""
    topics = settings.topics
    config = {"cleanup.policy": "compact"} if name in topics.compacted() else {}
    if settings.raw_topics_retention_days and name in topics.raw():
        config["retention.ms"] = retention_ms(settings.raw_topics_retention_days)
    return config


def retention_ms(days: int) -> str:
    return str(days * 86_400_000)


DYNAMIC_TOPIC_CONFIG = 1
"""``config_source`` of a setting made for the topic itself (not a broker default)."""


def retention_change(entries: list[dict[str, Any]], wanted_ms: str) -> dict[str, str] | None:
    """The topic's whole set of own settings with ``retention.ms`` as wanted, or None when
    it has it. AlterConfigs replaces that set, so the others are carried over. Pure."""
    own = {
        str(entry["config_names"]): str(entry["config_value"])
        for entry in entries
        if entry["config_source"] == DYNAMIC_TOPIC_CONFIG
    }
    if own.get("retention.ms") == wanted_ms:
        return None
    return own | {"retention.ms": wanted_ms}


async def keep_raw_retention(
    admin: AIOKafkaAdminClient, settings: FootfallSettings, existing: set[str]
) -> None:
    """Give the raw topics that existed already the configured retention."""
    days = settings.raw_topics_retention_days
    names = [name for name in settings.topics.raw() if name in existing]
    if not days or not names:
        return
    wanted = retention_ms(days)
    try:
        responses = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name) for name in names]
        )
        changes = [
            ConfigResource(ConfigResourceType.TOPIC, resource["resource_name"], configs=change)
            for response in responses
            for resource in response.to_object()["resources"]
            if (change := retention_change(resource["config_entries"], wanted)) is not None
        ]
        if changes:
            await admin.alter_configs(changes)
            log.info("raw topics keep records %d days: %s", days, [c.name for c in changes])
    except KafkaError as exc:  # a broker without DescribeConfigs/AlterConfigs (Tansu)
        log.warning("could not set retention.ms of the raw topics: %s", exc)


async def topic_partitions(settings: FootfallSettings, topic: str) -> list[TopicPartition]:
    """Every partition of ``topic`` as the broker lists it now (none if it does not exist).

    A consumer's ``partitions_for_topic`` reads its cached metadata, which on Apache Kafka
    holds only the topics it asked about: its first metadata request names none (Tansu
    answers that one with every topic), so an assigning reader would find no partitions.
    """
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return sorted(
        TopicPartition(topic, part["partition"])
        for entry in described
        if entry["error_code"] == 0
        for part in entry["partitions"]
    )


def all_led(described: list[dict[str, Any]], wanted: Sequence[NewTopic]) -> bool:
    """Every partition of every ``wanted`` topic is in the metadata with a leader. Pure."""
    led = {
        topic["topic"]: sum(p["error_code"] == 0 and p["leader"] >= 0 for p in topic["partitions"])
        for topic in described
        if topic["error_code"] == 0
    }
    return all(led.get(topic.name, 0) >= topic.num_partitions for topic in wanted)


def tls_context(settings: FootfallSettings) -> ssl.SSLContext | None:
    """The TLS context of every Kafka client, or None on a plaintext connection."""
    if not settings.kafka_uses_tls:
        return None
    context: ssl.SSLContext = create_ssl_context(
        cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None,
        certfile=str(settings.kafka_ssl_certfile) if settings.kafka_ssl_certfile else None,
        keyfile=str(settings.kafka_ssl_keyfile) if settings.kafka_ssl_keyfile else None,
    )
    return context


def client_options(settings: FootfallSettings) -> dict[str, Any]:
    """Where Kafka is and how to authenticate: the options every aiokafka client takes."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "security_protocol": settings.kafka_security_protocol,
    }
    context = tls_context(settings)
    if context is not None:
        options["ssl_context"] = context
    if settings.kafka_uses_sasl:
        password = settings.kafka_sasl_password
        options |= {
            "sasl_mechanism": settings.kafka_sasl_mechanism,
            "sasl_plain_username": settings.kafka_sasl_username,
            "sasl_plain_password": password.get_secret_value() if password else None,
        }
    return options


def millis(seconds: float) -> int:
    """A duration of the settings (seconds) as the Kafka clients take it."""
    return round(seconds * 1000)


def consumer_timing(settings: FootfallSettings) -> dict[str, int]:
    """The fetch wait and the group session of an aiokafka consumer, from the one setting of
    each; heartbeats at a fifth of the session (Kafka asks for at most a third)."""
    session = millis(settings.session_timeout_s)
    return {
        "fetch_max_wait_ms": millis(settings.fetch_max_wait_s),
        "session_timeout_ms": session,
        "heartbeat_interval_ms": max(session // 5, 500),
    }


def producer_options(settings: FootfallSettings) -> dict[str, Any]:
    """Options for an aiokafka producer that never loses an acknowledged record."""
    return client_options(settings) | {
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
