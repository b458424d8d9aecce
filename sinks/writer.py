"""Kafka → ClickHouse: batches by size and time, commits only after ClickHouse confirmed.

Redelivery never double-counts: every table uses a Replacing engine keyed on the record's
identity, and every batch of events is filtered before insert against the events already
stored (and against itself), so the same event at two offsets — a redelivery after a crash or
rebalance, or a client's retry that reached Kafka again — is one row, and a raw ``count()`` of
``events`` and ``overflow_events`` stays exact without ``FINAL``.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from clickhouse_connect.driver.exceptions import ClickHouseError

from footfall.kafka import client_options
from sinks.clickhouse import TRANSIENT_ERRORS, Store, insert_rows
from sinks.rows import (
    DLQ_COLUMNS,
    EVENTS,
    OVERFLOW_EVENTS,
    PROFILES,
    SEGMENT_CHANGES,
    TRANSITIONS,
    WEBHOOK_ATTEMPTS,
    BadMessage,
    EventKey,
    Table,
    decode,
    dlq_row,
    event_key,
    new_events,
    to_row,
)
from sinks.settings import SinkSettings

log = logging.getLogger("footfall.sink")

# Records converted between two chances for the event loop to move the stored batch on.
YIELD_EVERY = 500
# How long a poll waits while a batch is being stored and the next one already has rows.
GATHER_WAIT_S = 0.02

# A batch refused with one of these is retried row by row; rows still refused go to the DLQ.
REJECTED: tuple[type[Exception], ...] = (
    ClickHouseError,
    ValueError,
    TypeError,
    AttributeError,
    OverflowError,
)


@dataclass
class Batch:
    """Rows per table gathered from one poll, plus the offsets to commit afterwards."""

    rows: dict[str, list[list[Any]]] = field(default_factory=lambda: defaultdict(list))
    offsets: dict[TopicPartition, int] = field(default_factory=dict)
    sources: dict[int, tuple[str, int, int]] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return sum(len(rows) for rows in self.rows.values())


class ClickHouseWriter:
    """Consumes the Footfall topics and writes them to ClickHouse."""

    def __init__(self, settings: SinkSettings, client: Store) -> None:
        self.settings = settings
        self.client = client
        topics = settings.topics
        self.tables: dict[str, Table] = {
            topics.events: EVENTS,
            topics.overflow: OVERFLOW_EVENTS,
            topics.profiles: PROFILES,
            topics.journey: TRANSITIONS,
            topics.segments: SEGMENT_CHANGES,
            topics.webhooks_attempts: WEBHOOK_ATTEMPTS,
        }
        self.dlq_topic = topics.dlq
        self.exact = {EVENTS.name, OVERFLOW_EVENTS.name}
        self.rows_written = 0
        self.lock = asyncio.Lock()

    def consumer(self) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            **client_options(self.settings),
            group_id=self.settings.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self.settings.batch_max_rows,
            fetch_max_wait_ms=self.settings.fetch_max_wait_ms,
            session_timeout_ms=10_000,
            heartbeat_interval_ms=2_000,
        )

    async def run(self, stop: asyncio.Event) -> None:
        consumer = self.consumer()
        consumer.subscribe([*self.tables, self.dlq_topic])
        await consumer.start()
        # One batch is stored (inserted, then committed) at a time. Meanwhile the next polls are
        # converted and gathered into the following batch, which so grows with the load (up to
        # insert_max_rows): the busier ClickHouse is, the bigger and cheaper its inserts.
        storing: asyncio.Task[None] | None = None
        batch = Batch()
        try:
            while not stop.is_set():
                busy = storing is not None and not storing.done()
                wait_s = GATHER_WAIT_S if busy and batch.offsets else self.settings.batch_max_wait_s
                polled = await consumer.getmany(
                    timeout_ms=int(wait_s * 1000), max_records=self.settings.batch_max_rows
                )
                await self.collect(polled, batch)
                if not batch.offsets:
                    continue
                if storing is not None:
                    if not storing.done() and batch.size < self.settings.insert_max_rows:
                        continue
                    await storing
                storing = asyncio.create_task(self.store(consumer, batch))
                batch = Batch()
            if storing is not None:
                await storing
        finally:
            if storing is not None and not storing.done():
                storing.cancel()
            await consumer.stop()

    async def store(self, consumer: AIOKafkaConsumer, batch: Batch) -> None:
        """Insert the batch, then commit its offsets: never the other way round."""
        await self.write(batch)
        await consumer.commit(batch.offsets)

    async def collect(
        self, polled: dict[TopicPartition, list[ConsumerRecord[Any, Any]]], batch: Batch
    ) -> None:
        """Add the polled records to ``batch`` as rows, yielding to the loop now and then so the
        batch being stored can go on."""
        for tp, records in polled.items():
            for at, record in enumerate(records, 1):
                self.add(batch, tp, record)
                if at % YIELD_EVERY == 0:
                    await asyncio.sleep(0)
            batch.offsets[tp] = records[-1].offset + 1

    def add(self, batch: Batch, tp: TopicPartition, record: ConsumerRecord[Any, Any]) -> None:
        if tp.topic == self.dlq_topic:
            try:
                data = decode(record.value)
            except BadMessage as exc:
                data = {"reason": str(exc), "payload": repr(record.value)}
            batch.rows["dlq_events"].append(dlq_row(data, tp.topic, tp.partition, record.offset))
            return
        table = self.tables[tp.topic]
        try:
            row = to_row(table, record.value)
            batch.rows[table.name].append(row)
            batch.sources[id(row)] = (tp.topic, tp.partition, record.offset)
        except BadMessage as exc:
            log.warning("bad message %s[%d]@%d: %s", tp.topic, tp.partition, record.offset, exc)
            reason = {"reason": str(exc), "stage": "sink", "payload": repr(record.value)}
            batch.rows["dlq_events"].append(dlq_row(reason, tp.topic, tp.partition, record.offset))

    async def write(self, batch: Batch) -> None:
        """Insert every table's rows, waiting out transient ClickHouse failures."""
        for table, rows in batch.rows.items():
            if not rows:
                continue
            try:
                self.rows_written += await self.retrying(self.insert, table, rows)
            except REJECTED as exc:
                if table == "dlq_events":
                    raise
                log.warning("%s refused a batch (%s); inserting row by row", table, exc)
                rejected = await self.one_by_one(table, rows, batch.sources)
                if rejected:
                    await self.retrying(self.insert, "dlq_events", rejected)

    async def one_by_one(
        self, table: str, rows: list[list[Any]], sources: dict[int, tuple[str, int, int]]
    ) -> list[list[Any]]:
        """Insert ``rows`` singly; the DLQ rows for those ClickHouse can never take."""
        rejected = []
        for row in rows:
            try:
                self.rows_written += await self.retrying(self.insert, table, [row])
            except REJECTED as exc:
                topic, partition, offset = sources.get(id(row), ("", -1, -1))
                reason = {
                    "reason": f"{table} insert refused: {exc}",
                    "stage": "sink",
                    "payload": repr(row),
                }
                rejected.append(dlq_row(reason, topic, partition, offset))
        return rejected

    async def retrying(self, fn: Any, *args: Any) -> Any:
        delay = 0.5
        while True:
            try:
                async with self.lock:
                    return await asyncio.to_thread(fn, *args)
            except TRANSIENT_ERRORS as exc:
                log.warning("ClickHouse unavailable (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.settings.retry_max_backoff_s)

    def insert(self, table: str, rows: list[list[Any]]) -> int:
        """Insert ``rows``, of events those not stored yet only (looked up again on every try,
        so an insert that went through before its answer was lost is not made twice); returns
        how many rows were inserted."""
        if table in self.exact:
            rows = new_events(rows, self.stored_keys(table, rows))
            if not rows:
                return 0
        columns = DLQ_COLUMNS if table == "dlq_events" else self.columns_of(table)
        insert_rows(self.client, table, columns, rows)
        return len(rows)

    def columns_of(self, table: str) -> tuple[str, ...]:
        for candidate in self.tables.values():
            if candidate.name == table:
                return candidate.columns
        raise KeyError(table)

    def stored_keys(self, table: str, rows: list[list[Any]]) -> set[EventKey]:
        """The keys of ``rows`` already in ``table``, found through its sorting key (a bad id
        finds nothing; the insert then refuses it and the row goes to the DLQ)."""
        sites, browsers, ids = zip(*map(event_key, rows), strict=True)
        found = self.client.query(
            f"SELECT site_id, anonymous_id, toString(event_id) FROM {table} "
            "WHERE (site_id, anonymous_id, event_id) IN (SELECT k.1, k.2, toUUIDOrZero(k.3) FROM "
            "(SELECT arrayJoin(arrayZip({s:Array(String)}, {a:Array(String)}, {e:Array(String)}))"
            " AS k))",
            parameters={"s": list(sites), "a": list(browsers), "e": list(ids)},
        )
        return {(str(s), str(a), str(e)) for s, a, e in found.result_rows}
