"""Prometheus metrics of the ClickHouse sink (one registry per process, see base.metrics)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric

from base.metrics import BATCH_SIZES, PIPELINE_SECONDS, STAGE_SECONDS, sampled

DLQ_STAGES = ("collector", "worker", "sink")
"""The ``stage`` label of ``footfall_sink_dlq_rows_total``; any other value counts as other."""


@dataclass
class SinkMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    table_sizes: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Rows and bytes of each table, read by the store probe (``sinks.probe``)."""
    newest_received: float = 0.0

    def __post_init__(self) -> None:
        r = self.registry
        self.records = Counter(
            "footfall_sink_records", "Records read from Kafka, by topic.", ["topic"], registry=r
        )
        self.rows = Counter(
            "footfall_sink_rows_inserted", "Rows inserted, by table.", ["table"], registry=r
        )
        self.duplicates = Counter(
            "footfall_sink_duplicates_dropped",
            "Events not inserted because the same event is already stored or earlier in the "
            "batch (a redelivery, or a retry that reached Kafka at a new offset).",
            ["table"],
            registry=r,
        )
        self.dlq = Counter(
            "footfall_sink_dlq_rows",
            "Rows written to dlq_events, by the stage that refused the record.",
            ["stage"],
            registry=r,
        )
        self.batch_rows = Histogram(
            "footfall_sink_batch_rows", "Rows of one insert.", buckets=BATCH_SIZES, registry=r
        )
        self.insert_seconds = Histogram(
            "footfall_sink_insert_seconds",
            "Time of one insert in the engine (with its duplicate look-up), by table.",
            ["table"],
            buckets=STAGE_SECONDS,
            registry=r,
        )
        self.commit_seconds = Histogram(
            "footfall_sink_commit_seconds",
            "Time to commit a stored batch's offsets.",
            buckets=STAGE_SECONDS,
            registry=r,
        )
        self.latency = Histogram(
            "footfall_sink_event_latency_seconds",
            "From the collector's acknowledgement (received_at) to the row being stored "
            "(sampled: at most 64 events of an insert).",
            buckets=PIPELINE_SECONDS,
            registry=r,
        )
        self.last_insert = Gauge(
            "footfall_sink_last_insert_timestamp_seconds",
            "When rows were last inserted, by table (Unix time).",
            ["table"],
            registry=r,
        )
        self.newest_event = Gauge(
            "footfall_sink_newest_event_received_timestamp_seconds",
            "received_at of the newest event stored (Unix time): now minus this is how old "
            "the freshest row of events is.",
            registry=r,
        )
        self.probe_seconds = Histogram(
            "footfall_sink_store_probe_seconds",
            "Time the store took to answer a SELECT 1.",
            buckets=STAGE_SECONDS,
            registry=r,
        )
        self.sql_seconds = Histogram(
            "footfall_sink_sql_query_seconds",
            "Time of a query of the read-only SQL endpoint, by outcome (ok, refused, error).",
            ["outcome"],
            buckets=STAGE_SECONDS,
            registry=r,
        )
        r.register(TableSizeCollector(self))

    def stored(self, table: str, rows: list[list[Any]], received_at: int | None) -> None:
        """Count an insert of ``rows``; for events, their latency from ``received_at`` (the
        column's index) and the newest received_at."""
        now = time.time()
        self.rows.labels(table).inc(len(rows))
        self.batch_rows.observe(len(rows))
        self.last_insert.labels(table).set(now)
        if received_at is None or not rows:
            return
        newest = 0.0
        for at in sampled(len(rows)):
            moment = rows[at][received_at]
            if isinstance(moment, datetime) and moment.year > 1970:
                stamp = moment.timestamp()
                newest = max(newest, stamp)
                self.latency.observe(max(now - stamp, 0.0))
        if newest > self.newest_received:
            self.newest_received = newest
            self.newest_event.set(newest)

    def dlq_row(self, stage: str) -> None:
        self.dlq.labels(stage if stage in DLQ_STAGES else "other").inc()


class TableSizeCollector:
    """``footfall_store_table_rows`` and ``…_bytes`` per table from the last reading."""

    def __init__(self, metrics: SinkMetrics) -> None:
        self.metrics = metrics

    def describe(self) -> Iterator[Metric]:
        return self.families({})

    def collect(self) -> Iterator[Metric]:
        return self.families(dict(self.metrics.table_sizes))

    def families(self, sizes: dict[str, tuple[int, int]]) -> Iterator[Metric]:
        rows = GaugeMetricFamily(
            "footfall_store_table_rows", "Rows of each table (active parts).", labels=["table"]
        )
        size = GaugeMetricFamily(
            "footfall_store_table_bytes", "Bytes on disk of each table.", labels=["table"]
        )
        for table, (count, nbytes) in sorted(sizes.items()):
            rows.add_metric([table], count)
            size.add_metric([table], nbytes)
        yield from (rows, size)


TABLE_SIZES = (
    "SELECT table, sum(rows), sum(bytes_on_disk) FROM system.parts "
    "WHERE active AND database = currentDatabase() GROUP BY table"
)
