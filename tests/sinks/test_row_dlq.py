"""A row ClickHouse can never take goes to the DLQ with the reason; the rest of its batch lands."""

from __future__ import annotations

import asyncio

import clickhouse_connect
import orjson
import pytest
from aiokafka import TopicPartition

from sinks.migrate import migrate_up
from sinks.rows import EVENTS, to_row
from sinks.settings import SinkSettings
from sinks.writer import Batch, ClickHouseWriter
from tests.sinks.test_cookbook import event

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


def test_unstorable_row_goes_to_dlq_and_the_rest_is_inserted() -> None:
    client = clickhouse_connect.get_client(dsn="chdb://memory")
    for (name,) in client.query("SHOW TABLES").result_rows:
        client.command(f"DROP TABLE IF EXISTS `{name}`")
    migrate_up(client)
    writer = ClickHouseWriter(SinkSettings(), client)
    batch = Batch()
    tp = TopicPartition("footfall.events", 0)
    for offset in range(5):
        message = event("page_view", f"c{offset}", "2026-11-02T08:50:00Z", f"s{offset}")
        row = to_row(EVENTS, orjson.dumps(message))
        batch.rows["events"].append(row)
        batch.sources[id(row)] = (tp.topic, tp.partition, offset)
    poisoned = batch.rows["events"][2]
    poisoned[EVENTS.columns.index("occurred_at")] = "not a time"
    asyncio.run(writer.write(batch))
    assert client.query("SELECT count() FROM events").result_rows == [(4,)]
    dlq = client.query("SELECT topic, partition, offset, stage, reason FROM dlq_events").result_rows
    assert len(dlq) == 1
    assert dlq[0][:4] == ("footfall.events", 0, 2, "sink")
    assert "events insert refused" in dlq[0][4]
