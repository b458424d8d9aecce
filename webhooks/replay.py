"""Replaying deliveries: from the DLQ topic, or every delivery made in a time range."""

from __future__ import annotations

from datetime import datetime

from aiokafka import AIOKafkaConsumer
from pydantic import ValidationError

from base.kafka import client_options, topic_partitions
from schemas.webhooks import Delivery
from webhooks.settings import WebhookSettings

QUIET_MS = 700


def chosen(
    parked: list[Delivery],
    since: datetime | None,
    until: datetime | None,
    subscription_id: str | None,
) -> list[Delivery]:
    """The latest DLQ record of each delivery that matches the filters. Pure."""
    latest: dict[str, Delivery] = {}
    for delivery in parked:
        dead = delivery.dead_at or delivery.created_at
        if subscription_id and delivery.subscription_id != subscription_id:
            continue
        if (since and dead < since) or (until and dead >= until):
            continue
        latest[delivery.delivery_id] = delivery
    return list(latest.values())


async def read_dlq(settings: WebhookSettings) -> list[Delivery]:
    """Every delivery on the DLQ topic, oldest first.

    Reading stops at the end offsets and after a quiet poll: some brokers report an end
    offset below the last record, so the end offsets alone are not trusted.
    """
    topic = settings.topics.webhooks_dlq
    consumer = AIOKafkaConsumer(
        **client_options(settings),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    found: list[Delivery] = []
    try:
        tps = await topic_partitions(settings, topic)
        if not tps:
            return []
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        while True:
            polled = await consumer.getmany(timeout_ms=QUIET_MS, max_records=5000)
            for records in polled.values():
                for record in records:
                    try:
                        found.append(Delivery.model_validate_json(record.value))
                    except ValidationError:
                        continue
            at_end = all([await consumer.position(tp) >= ends[tp] for tp in tps])
            if not polled and at_end:
                return found
    finally:
        await consumer.stop()
