"""``footfall bench sink``: Kafka → ClickHouse rows/s next to a raw insert, and the cookbook's
latency on a large synthetic events table.

Figures printed:
- the baseline: clickhouse-connect inserting the same rows (already converted, in the sink's
  batch size) into an embedded store of the bench's own;
- the sink process consuming the same events from a private broker into its own store
  (decode, pure row functions, insert, commit), timed from its first written row;
- every cookbook query's latency on ``--events`` synthetic events generated inside ClickHouse.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import clickhouse_connect
import httpx
import orjson
from clickhouse_connect.driver.client import Client

from base.config import BrokerKind
from base.cookbook import recipes
from base.kafka import ensure_topics, start_producer
from footfall.bench_broker import (
    BenchBroker,
    bench_broker,
    broker_facts,
    describe,
    private_stack_settings,
)
from footfall.stack import Stack, StackSettings
from sinks.clickhouse import insert_rows
from sinks.migrate import migrate_up
from sinks.rows import EVENTS, to_row
from sinks.settings import SinkSettings

Say = Callable[[str], None]
TYPES = ["page_view", "product_view", "product_view", "cart_add", "click", "search"]

# One statement generating events shaped like the real ones: 100k browsers (40 % identified),
# sessions of ~50 events, 90 days, orders with totals and coupons, reviews, experiments.
SYNTHETIC = """
INSERT INTO events
SELECT
    generateUUIDv4(number) AS event_id,
    'demo' AS site_id,
    multiIf(k < 40, 'product_view', k < 60, 'page_view', k < 72, 'cart_add', k < 76, 'cart_remove',
            k < 84, 'checkout_started', k < 90, 'order_placed', k < 93, 'review',
            k < 96, 'experiment_exposure', 'search') AS type,
    concat('b-', toString(who)) AS anonymous_id,
    if(who % 5 < 2, concat('c-', toString(who)), '') AS customer_id,
    concat('s-', toString(who), '-', toString(intDiv(number, 50000))) AS session_id,
    toDateTime64('{start}', 3, 'UTC') + toIntervalMillisecond(intDiv(number * {span_ms}, {count}))
        AS occurred_at,
    occurred_at AS received_at,
    'https://shop.example/p' AS url, '/p' AS path, '' AS referrer,
    ['google', 'newsletter', 'instagram', ''][who % 4 + 1] AS utm_source,
    ['cpc', 'email', 'social', ''][who % 4 + 1] AS utm_medium,
    '' AS utm_campaign,
    if(k BETWEEN 84 AND 89 AND who % 3 = 0, 'WELCOME10', '') AS coupon,
    ['desktop', 'mobile', 'tablet'][who % 3 + 1] AS device_type,
    'Chrome' AS browser, 'Linux' AS os, 'DE' AS country, true AS verified,
    concat('p', toString(number % 500)) AS product_id,
    ['tech', 'home', 'fashion', 'beauty', 'garden', 'books'][number % 6 + 1] AS category,
    toDecimal64(5 + number % 300, 4) AS price,
    toUInt32(1 + number % 3) AS quantity,
    if(type = 'order_placed', concat('o', toString(number)), '') AS order_id,
    if(type = 'order_placed', toDecimal64(20 + number % 400, 4), toDecimal64(0, 4)) AS order_total,
    'EUR' AS currency,
    multiIf(
        type = 'review',
        concat('{{"rating":', toString(1 + number % 5), ',"title":"ok","text":"',
               ['slow delivery', 'broken box', 'great value', 'love it'][number % 4 + 1], '"}}'),
        type = 'experiment_exposure',
        concat('{{"experiment":"hero","variant":"', ['a', 'b'][who % 2 + 1], '"}}'),
        type = 'order_placed',
        concat('{{"discount":"', if(coupon = '', '0', '5'), '","items":[{{"product_id":"p',
               toString(number % 500), '","price":"19.90","quantity":1}}]}}'),
        '{{}}') AS properties,
    '{{}}' AS context,
    now64(3) AS inserted_at
FROM
(
    SELECT number, cityHash64(number) % 100 AS k, intHash32(number) % 100000 AS who
    FROM numbers({count})
)
"""

# Segment memberships of one identified customer in ten, so the per-segment queries join.
SEGMENT_MEMBERS = """
INSERT INTO segment_changes (site_id, profile_id, segment, change, cause, event_id, at)
SELECT 'demo', concat('c-', toString(number)),
       ['champions', 'at_risk', 'bargain_hunter'][number % 3 + 1], 'entered', 'rule', '',
       now64(3)
FROM numbers(100000) WHERE number % 5 < 2 AND number % 4 = 0
"""


def sample_events(count: int) -> list[bytes]:
    start = datetime(2026, 9, 1, tzinfo=UTC)
    return [
        orjson.dumps(
            {
                "event_id": str(uuid.uuid4()),
                "site_id": "demo",
                "type": TYPES[n % len(TYPES)],
                "anonymous_id": f"b-{n % 5000}",
                "session_id": f"s-{n // 40}",
                "occurred_at": (start + timedelta(seconds=n)).isoformat(),
                "context": {"utm": {"source": "google"}, "device": {"type": "desktop"}},
                "properties": {"product_id": f"p{n % 300}", "price": "19.90", "quantity": 1},
            }
        )
        for n in range(count)
    ]


def native_insert(client: Client, rows: list[list[Any]]) -> None:
    client.insert("events", rows, column_names=list(EVENTS.columns))


def json_columns_insert(client: Client, rows: list[list[Any]]) -> None:
    insert_rows(client, "events", EVENTS.columns, rows)


def insert_rate(
    client: Client,
    rows: list[list[Any]],
    batch: int,
    insert: Callable[[Client, list[list[Any]]], None],
) -> float:
    """Rows/s of ``insert`` storing the already converted rows, ``batch`` at a time, in an
    empty table (emptied again afterwards)."""
    started = time.monotonic()
    for at in range(0, len(rows), batch):
        insert(client, rows[at : at + batch])
    rate = len(rows) / (time.monotonic() - started)
    client.command("TRUNCATE TABLE events")
    return rate


async def produce(settings: StackSettings, values: list[bytes]) -> None:
    await ensure_topics(settings)
    producer = await start_producer(settings)
    try:
        for n, value in enumerate(values):
            await producer.send(settings.topics.events, value, key=f"demo:b-{n % 5000}".encode())
        await producer.flush()
    finally:
        await producer.stop()


def sink_rate(stack: Stack, expected: int, timeout: float = 600) -> float:
    """Rows/s of the sink process, from its first written row to the last."""
    first: tuple[float, int] | None = None
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=stack.settings.sink_url, timeout=5) as http:
        while time.monotonic() < deadline:
            written = int(http.get("/healthz").json().get("rows_written", 0))
            now = time.monotonic()
            if written and first is None:
                first = (now, written)
            if first is not None and written >= expected:
                return (written - first[1]) / max(now - first[0], 1e-9)
            time.sleep(0.05)
    raise TimeoutError(f"the sink wrote fewer than {expected} rows in {timeout:.0f}s")


def cookbook_latencies(client: Client, count: int, say: Say) -> None:
    start = datetime(2026, 8, 1, tzinfo=UTC)
    say(f"generating {count:,} synthetic events inside ClickHouse …")
    started = time.monotonic()
    client.command(
        SYNTHETIC.format(
            start=start.strftime("%Y-%m-%d %H:%M:%S"), span_ms=90 * 86_400_000, count=count
        )
    )
    client.command(SEGMENT_MEMBERS)
    client.command("OPTIMIZE TABLE events FINAL")
    say(f"  generated and merged in {time.monotonic() - started:.1f}s")
    for name, item in recipes().items():
        wanted = {"site": "demo", "experiment": "hero"}
        arguments = item.arguments(
            {p.name: wanted[p.name] for p in item.params if p.name in wanted}
        )
        started = time.monotonic()
        rows = client.query(item.sql, parameters=arguments).result_rows
        took = time.monotonic() - started
        say(f"  {name:<26} {1000 * took:>8.0f} ms  ({len(rows)} rows)")


def run(rows: int, events: int, say: Say, kind: BrokerKind = BrokerKind.kafka) -> None:
    with tempfile.TemporaryDirectory(prefix="footfall-bench-sink-") as tmp:
        data = Path(tmp)
        values = sample_events(rows)
        settings = private_stack_settings(data / "stack", kind)
        say(describe(broker_facts(kind, settings.partitions, settings.kafka_heap_mb)))
        client = clickhouse_connect.get_client(dsn=f"chdb://{data / 'baseline'}")
        migrate_up(client)
        sink = SinkSettings()
        say(
            f"{rows:,} events; the sink polls up to {sink.batch_max_rows:,} records and inserts "
            f"what gathered while the previous insert ran, up to {sink.insert_max_rows:,} rows"
        )
        converted = [to_row(EVENTS, value) for value in values]
        raw = {
            size: insert_rate(client, converted, size, native_insert)
            for size in (sink.batch_max_rows, sink.insert_max_rows)
        }
        for size, rate in raw.items():
            say(
                f"raw clickhouse-connect insert of the converted rows, {size:,} at a time: "
                f"{rate:,.0f} rows/s"
            )
        floor = insert_rate(client, converted, sink.insert_max_rows, json_columns_insert)
        say(f"  the same rows as the sink sends them (JSON columns, no Kafka): {floor:,.0f} rows/s")
        del converted
        client.close()  # its engine must not compete with the sink for the CPU
        with Stack(settings) as stack:
            logs = settings.data_dir / "logs"
            logs.mkdir(parents=True)
            for child in stack.children:
                child.log_path = logs / f"{child.name}.log"
            stack.launch(stack.child("broker"))
            asyncio.run(produce(settings, values))
            stack.launch(stack.child("sink"))
            rate = sink_rate(stack, rows)
        shares = " and ".join(
            f"{100 * rate / raw_rate:.0f}% of the raw insert {size:,} at a time"
            for size, raw_rate in raw.items()
        )
        say(
            f"sink process (Kafka → decode → rows → insert → commit): {rate:,.0f} rows/s = {shares}"
        )
        say(f"cookbook queries on {events:,} events (embedded engine, one process):")
        client = clickhouse_connect.get_client(dsn=f"chdb://{data / 'baseline'}")
        cookbook_latencies(client, events, say)
        client.close()


def bench_sink_command(
    rows: int = 100_000, events: int = 10_000_000, broker: BenchBroker = None
) -> None:
    """Sink rows/s next to a raw clickhouse-connect insert; cookbook latency on many events."""
    run(rows, events, print, bench_broker(broker))
