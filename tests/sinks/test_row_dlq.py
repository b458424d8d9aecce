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


def batch_with_a_poisoned_row(column: str, value: object) -> tuple[ClickHouseWriter, Batch]:
    """A fresh store, and five events at offsets 0-4 of which the third has ``column=value``."""
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
    batch.rows["events"][2][EVENTS.columns.index(column)] = value
    return writer, batch


def test_unstorable_row_goes_to_dlq_and_the_rest_is_inserted() -> None:
    writer, batch = batch_with_a_poisoned_row("occurred_at", "not a time")
    client = writer.client
    asyncio.run(writer.write(batch))
    assert client.query("SELECT count() FROM events").result_rows == [(4,)]
    dlq = client.query("SELECT topic, partition, offset, stage, reason FROM dlq_events").result_rows
    assert len(dlq) == 1
    assert dlq[0][:4] == ("footfall.events", 0, 2, "sink")
    assert "events insert refused" in dlq[0][4]


def test_a_bad_event_id_goes_to_dlq_and_the_rest_is_inserted() -> None:
    writer, batch = batch_with_a_poisoned_row("event_id", "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz")
    asyncio.run(writer.write(batch))
    assert writer.client.query("SELECT count() FROM events").result_rows == [(4,)]
    dlq = writer.client.query("SELECT offset, reason FROM dlq_events").result_rows
    assert [offset for offset, _ in dlq] == [2]
    assert "events insert refused" in dlq[0][1]


def test_another_sites_event_with_a_stored_id_still_lands() -> None:
    """Two sites may send the same event id: stored for one, the other's is still new."""
    writer, batch = batch_with_a_poisoned_row("customer_id", "c-x")  # five storable rows
    asyncio.run(writer.write(batch))
    site = EVENTS.columns.index("site_id")
    [(first_site,)] = writer.client.query("SELECT DISTINCT site_id FROM events").result_rows
    again = Batch()
    tp = TopicPartition("footfall.events", 0)
    for offset, row in enumerate(batch.rows["events"]):
        for copy in ([*row[:site], "other-shop", *row[site + 1 :]], list(row)):
            again.rows["events"].append(copy)  # the same ids for another site, and again
            again.sources[id(copy)] = (tp.topic, tp.partition, 10 + 2 * offset)
    asyncio.run(writer.write(again))
    counts = writer.client.query("SELECT site_id, count() FROM events GROUP BY site_id")
    assert sorted(counts.result_rows) == sorted([(first_site, 5), ("other-shop", 5)])


def test_the_same_event_at_new_offsets_is_stored_once() -> None:
    """A client's retry that reached Kafka again (a new offset, in this batch or a later one)
    is one row of raw ``events``: ``count()`` without ``FINAL`` stays exact."""
    writer, batch = batch_with_a_poisoned_row("customer_id", "c-x")  # five storable rows
    tp = TopicPartition("footfall.events", 0)
    for offset, row in enumerate(list(batch.rows["events"][:2]), 5):
        copy = list(row)
        batch.rows["events"].append(copy)  # the same event again at a later offset, same batch
        batch.sources[id(copy)] = (tp.topic, tp.partition, offset)
    asyncio.run(writer.write(batch))
    later = Batch()
    later.rows["events"] = [list(row) for row in batch.rows["events"]]  # all again, next batch
    asyncio.run(writer.write(later))
    assert writer.client.query("SELECT count() FROM events").result_rows == [(5,)]
    assert writer.rows_written == 5


def test_a_replayed_partition_is_looked_up_by_a_sink_that_never_saw_it() -> None:
    """Another sink (or this one before a restart) stored the events: the memory knows none of
    them, so the first batch of a newly assigned partition is looked up in full."""
    writer, batch = batch_with_a_poisoned_row("customer_id", "c-x")
    asyncio.run(writer.write(batch))
    fresh = ClickHouseWriter(SinkSettings(), writer.client)  # an empty memory
    again = Batch()
    again.rows["events"] = [list(row) for row in batch.rows["events"]]
    again.recovering.add(TopicPartition("footfall.events", 0))
    asyncio.run(fresh.write(again))
    assert writer.client.query("SELECT count() FROM events").result_rows == [(5,)]
    assert fresh.rows_written == 0
