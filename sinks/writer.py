"""Kafka → ClickHouse: batches by size and time, commits only after ClickHouse confirmed.

Redelivery never double-counts: every table uses a Replacing engine keyed on the record's
identity, and every batch of events is cleared of the events already stored and of its own
repeats before insert, so the same event at two offsets — a redelivery after a crash or
rebalance, or a client's retry that reached Kafka again — is one row, and a raw ``count()`` of
``events`` and ``overflow_events`` stays exact without ``FINAL``. What is "already stored" is
asked of ClickHouse for the rows the sink's memory of recent events knows (``sinks.recent``),
and for every row of a partition's first batch after it was (re)assigned.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from clickhouse_connect.driver.exceptions import ClickHouseError

from base.kafka import REQUEST_ID_HEADER, client_options, consumer_timing, ensure_topics
from sinks.clickhouse import TRANSIENT_ERRORS, Store, insert_rows
from sinks.metrics import SinkMetrics
from sinks.privacy import SinkErasure
from sinks.recent import RecentKeys, load_statement
from sinks.rows import (
    AUDIT,
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
    first_of_each,
    to_row,
)
from sinks.settings import SinkSettings

log = logging.getLogger("footfall.sink")

RECEIVED_AT = EVENTS.columns.index("received_at")
DLQ_STAGE = DLQ_COLUMNS.index("stage")
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
    recovering: set[TopicPartition] = field(default_factory=set)
    """Partitions whose first records since an assignment are in the batch."""
    privacy: list[bytes | None] = field(default_factory=list)

    @property
    def size(self) -> int:
        return sum(len(rows) for rows in self.rows.values())


def request_id_of(record: ConsumerRecord[Any, Any]) -> str:
    """The collector's request id of a record (its ``footfall-request-id`` header), or ''."""
    for key, value in record.headers or ():
        if key == REQUEST_ID_HEADER and isinstance(value, bytes):
            return value.decode(errors="replace")
    return ""


class Recovery(ConsumerRebalanceListener):  # type: ignore[misc]
    """Marks newly assigned partitions: their first batch may repeat rows another sink (or
    this one before a restart) stored."""

    def __init__(self) -> None:
        self.recovering: set[TopicPartition] = set()

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        self.recovering -= set(revoked)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        self.recovering |= set(assigned)


class ClickHouseWriter:
    """Consumes the Footfall topics and writes them to ClickHouse."""

    def __init__(
        self, settings: SinkSettings, client: Store, metrics: SinkMetrics | None = None
    ) -> None:
        self.settings = settings
        self.client = client
        self.metrics = metrics or SinkMetrics()
        self.consumer_: AIOKafkaConsumer | None = None
        topics = settings.topics
        self.tables: dict[str, Table] = {
            topics.events: EVENTS,
            topics.overflow: OVERFLOW_EVENTS,
            topics.profiles: PROFILES,
            topics.journey: TRANSITIONS,
            topics.segments: SEGMENT_CHANGES,
            topics.webhooks_attempts: WEBHOOK_ATTEMPTS,
            topics.audit: AUDIT,
        }
        self.dlq_topic = topics.dlq
        self.privacy_topic = topics.privacy
        self.erasure = SinkErasure(client, settings.partitions, settings.erasure_with_dispatcher)
        self.exact = {EVENTS.name, OVERFLOW_EVENTS.name}
        self.recent = {table: RecentKeys(settings.dedup_window_keys) for table in self.exact}
        self.recovery = Recovery()
        self.rows_written = 0
        self.lock = asyncio.Lock()

    def consumer(self) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            **client_options(self.settings),
            group_id=self.settings.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self.settings.batch_max_rows,
            **consumer_timing(self.settings),
        )

    async def run(self, stop: asyncio.Event) -> None:
        await ensure_topics(self.settings)  # subscribing waits for every topic to exist
        await asyncio.to_thread(self.remember_recent)
        consumer = self.consumer_ = self.consumer()
        await self.retrying(self.erasure.load)
        consumer.subscribe(
            [*self.tables, self.dlq_topic, self.privacy_topic], listener=self.recovery
        )
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
        began = time.perf_counter()
        await consumer.commit(batch.offsets)
        self.metrics.commit_seconds.observe(time.perf_counter() - began)
        self.recovery.recovering -= batch.recovering

    async def collect(
        self, polled: dict[TopicPartition, list[ConsumerRecord[Any, Any]]], batch: Batch
    ) -> None:
        """Add the polled records to ``batch`` as rows, yielding to the loop now and then so the
        batch being stored can go on."""
        for tp, records in polled.items():
            self.metrics.records.labels(tp.topic).inc(len(records))
            if tp in self.recovery.recovering:
                batch.recovering.add(tp)
            for at, record in enumerate(records, 1):
                self.add(batch, tp, record)
                if at % YIELD_EVERY == 0:
                    await asyncio.sleep(0)
            batch.offsets[tp] = records[-1].offset + 1
            if log.isEnabledFor(logging.DEBUG):  # which requests' events this batch stores
                where = {"topic": tp.topic, "partition": tp.partition}
                where |= {"offsets": f"{records[0].offset}-{records[-1].offset}"}
                where["request_ids"] = sorted({request_id_of(r) for r in records} - {""})
                log.debug("read %d records", len(records), extra=where)

    def add(self, batch: Batch, tp: TopicPartition, record: ConsumerRecord[Any, Any]) -> None:
        if tp.topic == self.privacy_topic:
            batch.privacy.append(record.value)
            return
        if tp.topic == self.settings.topics.profiles and record.value is None:
            return  # a tombstone: the profile was erased (its rows go with the erasure)
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
            where = {"topic": tp.topic, "partition": tp.partition, "offset": record.offset}
            where["request_id"] = request_id_of(record)
            log.warning(
                "bad message %s[%d]@%d: %s", tp.topic, tp.partition, record.offset, exc, extra=where
            )
            reason = {"reason": str(exc), "stage": "sink", "payload": repr(record.value)}
            batch.rows["dlq_events"].append(dlq_row(reason, tp.topic, tp.partition, record.offset))

    async def write(self, batch: Batch) -> None:
        """Insert every table's rows, waiting out transient ClickHouse failures.

        The batch's erasure requests and reports go first: the rows of a customer erased
        meanwhile are dropped, and the deletions they make due run before the commit."""
        if batch.privacy:
            await self.retrying(self.erasure.absorb, batch.privacy)
        dropped = self.erasure.filter(batch.rows, self.columns_of)
        if dropped:
            log.info("dropped %d rows of erased customers", dropped)
        recovering = {
            self.tables[tp.topic].name for tp in batch.recovering if tp.topic in self.tables
        }
        for table, rows in batch.rows.items():
            if not rows:
                continue
            everyone = table in recovering
            try:
                self.rows_written += await self.retrying(self.insert, table, rows, everyone)
            except REJECTED as exc:
                if table == "dlq_events":
                    raise
                log.warning("%s refused a batch (%s); inserting row by row", table, exc)
                rejected = await self.one_by_one(table, rows, batch.sources, everyone)
                if rejected:
                    await self.retrying(self.insert, "dlq_events", rejected)

    async def one_by_one(
        self,
        table: str,
        rows: list[list[Any]],
        sources: dict[int, tuple[str, int, int]],
        everyone: bool,
    ) -> list[list[Any]]:
        """Insert ``rows`` singly; the DLQ rows for those ClickHouse can never take."""
        rejected = []
        for row in rows:
            try:
                self.rows_written += await self.retrying(self.insert, table, [row], everyone)
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

    def insert(self, table: str, rows: list[list[Any]], everyone: bool = False) -> int:
        """Insert ``rows``, of events only those not stored yet, and return how many went in.

        Stored is asked of ClickHouse for the rows the memory of recent events knows, or for
        all of them (``everyone``: the first batch of a newly assigned partition). The keys are
        remembered before the insert, so a try that went through before its answer was lost
        is looked up on the next try and not made twice."""
        began = time.perf_counter()
        if table in self.exact:
            rows = self.new_events(table, rows, everyone)
            if not rows:
                return 0
        columns = DLQ_COLUMNS if table == "dlq_events" else self.columns_of(table)
        insert_rows(self.client, table, columns, rows)
        self.metrics.insert_seconds.labels(table).observe(time.perf_counter() - began)
        self.metrics.stored(table, rows, RECEIVED_AT if table == EVENTS.name else None)
        if table == "dlq_events":
            for row in rows:
                self.metrics.dlq_row(row[DLQ_STAGE])
        return len(rows)

    def new_events(self, table: str, rows: list[list[Any]], everyone: bool) -> list[list[Any]]:
        """The rows of events not stored yet, each once; remembered from here on."""
        recent = self.recent[table]
        keys = list(map(event_key, rows))
        doubtful = keys if everyone else [key for key in keys if key in recent]
        kept = first_of_each(keys, self.stored_keys(table, doubtful) if doubtful else set())
        recent.add(keys[at] for at in kept)
        if len(kept) == len(rows):
            return rows
        dropped = sorted(set(range(len(rows))) - set(kept))
        self.metrics.duplicates.labels(table).inc(len(dropped))
        log.info(
            "%s: %d events already stored, not inserted again",
            table,
            len(dropped),
            extra={"table": table, "event_ids": [keys[at][2] for at in dropped[:20]]},
        )
        return [rows[at] for at in kept]

    def assigned(self) -> int | None:
        """How many partitions the consumer holds now; None before it started."""
        return None if self.consumer_ is None else len(self.consumer_.assignment())

    def columns_of(self, table: str) -> tuple[str, ...]:
        if table == "dlq_events":
            return DLQ_COLUMNS
        for candidate in self.tables.values():
            if candidate.name == table:
                return candidate.columns
        raise KeyError(table)

    def stored_keys(self, table: str, keys: list[EventKey]) -> set[EventKey]:
        """Those of ``keys`` already in ``table``, found through its sorting key's prefix
        (site_id, anonymous_id); a bad id finds nothing, the insert then refuses it and the
        row goes to the DLQ."""
        sites, browsers, ids = (sorted(set(column)) for column in zip(*keys, strict=True))
        found = self.client.query(
            f"SELECT site_id, anonymous_id, toString(event_id) FROM {table} "
            "WHERE site_id IN {s:Array(String)} AND anonymous_id IN {a:Array(String)} "
            "AND event_id IN (SELECT toUUIDOrZero(arrayJoin({e:Array(String)})))",
            parameters={"s": sites, "a": browsers, "e": ids},
        )
        return {(str(s), str(a), str(e)) for s, a, e in found.result_rows}

    def remember_recent(self) -> None:
        """Fill the memory of recent events from the store (the process just started)."""
        hours, limit = self.settings.dedup_window_hours, self.settings.dedup_window_keys
        for table, recent in self.recent.items():
            found = self.client.query(load_statement(table, hours, limit)).result_rows
            recent.add((str(s), str(a), str(e)) for s, a, e in reversed(found))
            log.info("remembered %d recent %s", len(found), table)
