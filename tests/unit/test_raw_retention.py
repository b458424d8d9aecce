"""The raw event topics keep records for the configured days, new topics and old ones."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from base.config import FootfallSettings
from base.kafka import client_options, ensure_topics, retention_change
from tests.conftest import TEST_BROKER, SharedBroker

DAY_MS = 86_400_000


def test_a_change_keeps_the_topics_own_settings_and_only_when_needed() -> None:
    entries = [
        {"config_names": "segment.bytes", "config_value": "1048576", "config_source": 1},
        {"config_names": "retention.ms", "config_value": "604800000", "config_source": 5},
        {"config_names": "cleanup.policy", "config_value": "delete", "config_source": 5},
    ]
    assert retention_change(entries, "259200000") == {
        "segment.bytes": "1048576",
        "retention.ms": "259200000",
    }
    entries[1]["config_source"] = 1
    assert retention_change(entries, "604800000") is None


async def own_settings(settings: FootfallSettings, names: list[str]) -> dict[str, dict[str, str]]:
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        answers = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name) for name in names]
        )
    finally:
        await admin.close()
    return {
        resource["resource_name"]: {
            e["config_names"]: e["config_value"]
            for e in resource["config_entries"]
            if e["config_source"] == 1
        }
        for answer in answers
        for resource in answer.to_object()["resources"]
    }


async def create(settings: FootfallSettings, topic: NewTopic) -> None:
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        await admin.create_topics([topic])
    finally:
        await admin.close()


@pytest.mark.integration
@pytest.mark.timeout(90)
@pytest.mark.skipif(TEST_BROKER.value != "kafka", reason="Tansu has no topic configs")
def test_raw_topics_get_the_retention_when_made_and_when_found_with_another() -> None:
    prefix = f"ret-{uuid.uuid4().hex[:8]}."
    bootstrap = SharedBroker.bootstrap()
    settings = FootfallSettings(
        kafka_bootstrap_servers=bootstrap, topic_prefix=prefix, raw_topics_retention_days=3
    )
    topics = settings.topics
    # An events topic made before, by hand, with a setting of its own and the default retention.
    found = NewTopic(topics.events, 4, 1, topic_configs={"segment.bytes": "1048576"})
    asyncio.run(create(settings, found))
    asyncio.run(ensure_topics(settings))
    wanted = str(3 * DAY_MS)
    deadline = time.monotonic() + 15  # the broker's metadata shows a change a moment later
    while True:
        seen = asyncio.run(own_settings(settings, [*topics.raw(), topics.profiles]))
        done = all(seen[name].get("retention.ms") == wanted for name in topics.raw())
        if done or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    for name in topics.raw():
        assert seen[name].get("retention.ms") == wanted, name
    assert seen[topics.events]["segment.bytes"] == "1048576"  # kept
    assert "retention.ms" not in seen[topics.profiles]  # not a raw topic
    assert asyncio.run(ensure_topics(settings)) == []  # nothing to make or change again
