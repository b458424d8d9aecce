"""The worker's table changelogs exist, compacted and led, before Faust's consumer joins.

Left to Faust, they were created a moment before the group's first assignment, which on a
fresh Apache Kafka could miss them: the profile agent then crashed on every table write with
``PartitionsMismatch`` (0 partitions) for five minutes, and profiles stopped.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiokafka import AIOKafkaClient
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from base.kafka import client_options, ensure_topics
from footfall.brokers import start_broker
from stream_processors.settings import WorkerSettings
from stream_processors.worker import build_app, changelog_topics
from tests.conftest import TEST_BROKER

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


async def created_then_seen(
    settings: WorkerSettings, wanted: list[NewTopic]
) -> tuple[dict[str, int], dict[str, str]]:
    """Partitions with a leader per topic, as a new client sees them the moment
    ``ensure_topics`` returns, and each topic's cleanup policy."""
    await ensure_topics(settings, 30.0, wanted)
    client = AIOKafkaClient(**client_options(settings))
    await client.bootstrap()
    try:
        cluster = await client.fetch_all_metadata()
        led = {t.name: len(cluster.available_partitions_for_topic(t.name) or ()) for t in wanted}
    finally:
        await client.close()
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        resources = [ConfigResource(ConfigResourceType.TOPIC, t.name) for t in wanted]
        answers = await admin.describe_configs(resources)
    finally:
        await admin.close()
    policies = {
        topic: dict(entry[:2] for entry in entries).get("cleanup.policy", "")
        for answer in answers
        for _, _, _, topic, entries in answer.resources
    }
    return led, policies


def test_changelog_topics_are_led_and_compacted_before_the_worker_starts(tmp_path: Path) -> None:
    with start_broker(TEST_BROKER, tmp_path) as broker:
        settings = WorkerSettings(
            kafka_bootstrap_servers=broker.bootstrap,
            broker_kind=TEST_BROKER,
            data_dir=tmp_path / "worker",
        )
        wanted = changelog_topics(build_app(settings))
        names = {topic.name for topic in wanted}
        tables = ("identity", "profiles", "erased_browsers", "erased_profiles")
        assert names == {f"footfall-worker-{table}-changelog" for table in tables}
        led, policies = asyncio.run(created_then_seen(settings, wanted))
        assert led == dict.fromkeys(names, settings.partitions)
        assert policies == dict.fromkeys(names, "compact")
