"""``footfall bench processors``: one worker's throughput next to a raw aiokafka floor.

Runs on a private broker in a temporary directory. Figures printed:
- the floor: a plain aiokafka loop that consumes the events topic and produces one
  profile-sized record per event (what any stateful processor's changelog costs);
- one worker folding the same backlog into profiles (its producer batching on that broker:
  one record per batch on Tansu, whose high watermark is wrong otherwise);
- freshness: HTTP 2xx at the collector → the event visible in the live lookup, p50/p95,
  while events arrive at a steady rate;
- bytes per profile: the stored JSON, and the RocksDB files on disk.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import NewTopic
from rocksdict import Options, Rdict

from base.config import BrokerKind, FootfallSettings
from base.kafka import ensure_topics, start_producer
from footfall.bench_broker import (
    BenchBroker,
    bench_broker,
    broker_facts,
    describe,
    private_stack_settings,
)
from footfall.stack import Stack
from stream_processors.settings import WorkerSettings

PROFILE_SIZED = b"x" * 700


def floor_topic(settings: FootfallSettings) -> str:
    """Where the aiokafka floor writes; created with the others (Kafka creates no topic on
    first use here, as ``auto.create.topics.enable`` is off)."""
    return settings.topics.identified + ".floor"


def relay_topic(settings: FootfallSettings) -> str:
    """Where the bare Faust agent (``footfall.bench_relay``) writes."""
    return settings.topics.identified + ".relay"


def backlog(count: int, customers: int) -> list[tuple[bytes, bytes]]:
    start = time.time() - 86400
    records = []
    for n in range(count):
        customer = f"c{n % customers:05d}"
        event = {
            "event_id": str(uuid.uuid4()),
            "type": "product_view" if n % 5 else "order_placed",
            "site_id": "demo",
            "anonymous_id": f"b-{customer}",
            "customer_id": customer,
            "session_id": f"s-{customer}-{n // 5000}",
            "occurred_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start + n)),
            "properties": (
                {"product_id": f"p{n % 40}", "category": f"cat{n % 7}", "price": "19.90"}
                if n % 5
                else {"order_id": f"o{n}", "total": "42.00", "currency": "EUR"}
            ),
        }
        records.append((f"demo:b-{customer}".encode(), orjson.dumps(event)))
    return records


async def produce(settings: FootfallSettings, topic: str, records: list[Any]) -> None:
    producer = await start_producer(settings)
    try:
        for key, value in records:
            await producer.send(topic, value, key=key)
        await producer.flush()
    finally:
        await producer.stop()


async def floor(settings: FootfallSettings, count: int) -> float:
    """Events/s of consume + produce-one-profile-sized-record, from the start of the topic."""
    consumer = AIOKafkaConsumer(
        settings.topics.events,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=f"floor-{uuid.uuid4()}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    producer = await start_producer(settings)
    await consumer.start()
    seen = 0
    started = time.monotonic()
    try:
        while seen < count:
            batch = await consumer.getmany(timeout_ms=500, max_records=2000)
            for records in batch.values():
                for record in records:
                    await producer.send(floor_topic(settings), PROFILE_SIZED, key=record.key)
                    seen += 1
            await consumer.commit()
        await producer.flush()
    finally:
        await consumer.stop()
        await producer.stop()
    return count / (time.monotonic() - started)


async def folded(settings: FootfallSettings, expected: int, timeout: float) -> float:
    """Seconds from the first snapshot until the latest ones add up to ``expected`` events."""
    consumer = AIOKafkaConsumer(
        settings.topics.profiles,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    latest: dict[bytes, int] = {}
    started = time.monotonic()
    first = 0.0  # when the first snapshot appeared: group join and recovery left out
    try:
        while sum(latest.values()) < expected:
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"only {sum(latest.values())} of {expected} folded")
            batch = await consumer.getmany(timeout_ms=200, max_records=5000)
            for records in batch.values():
                for record in records:
                    first = first or time.monotonic()
                    body = orjson.loads(record.value)
                    if body.get("merged_into") is None and record.key is not None:
                        latest[record.key] = max(latest.get(record.key, 0), body["event_count"])
    finally:
        await consumer.stop()
    return time.monotonic() - first


async def live_after(
    client: httpx.AsyncClient,
    worker_url: str,
    site: str,
    profile_id: str,
    since: float,
    timeout_s: float,
    poll_s: float = 0.005,
) -> float | None:
    """Seconds from ``since`` (``time.monotonic()``) until the live lookup answers for a
    profile that did not exist before (its first event counted); None after ``timeout_s``.

    The lookup is what ``footfall profile`` reads: the owning worker's table, so this is
    the freshness a person sees, not the snapshot topic's.
    """
    while time.monotonic() - since < timeout_s:
        seen = await client.get(f"{worker_url}/profiles/{site}/{profile_id}")
        if seen.status_code == 200:
            return time.monotonic() - since
        await asyncio.sleep(poll_s)
    return None


async def freshness(stack: Stack, rate: int, seconds: float) -> list[float]:
    """Latencies from a 2xx to the probe event visible in the live lookup, under ``rate``/s."""
    s = stack.settings
    key = "demo-secret-key"
    latencies: list[float] = []
    async with httpx.AsyncClient(timeout=10) as client:

        async def steady() -> None:
            per_request = max(1, rate // 50)
            deadline = time.monotonic() + seconds
            n = 0
            while time.monotonic() < deadline:
                tick = time.monotonic()
                batch = [
                    {
                        "event_id": str(uuid.uuid4()),
                        "type": "page_view",
                        "anonymous_id": f"load-{(n + i) % 500}",
                        "occurred_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    }
                    for i in range(per_request)
                ]
                n += per_request
                await client.post(
                    f"{s.collector_url}/v1/batch",
                    json={"write_key": key, "batch": batch},
                )
                await asyncio.sleep(max(0.0, 0.02 - (time.monotonic() - tick)))

        async def probes() -> None:
            end = time.monotonic() + seconds - 2
            i = 0
            while time.monotonic() < end:
                customer = f"probe-{uuid.uuid4().hex[:8]}"
                probe = {
                    "event_id": str(uuid.uuid4()),
                    "type": "page_view",
                    "anonymous_id": customer,
                    "customer_id": customer,
                    "occurred_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                }
                response = await client.post(
                    f"{s.collector_url}/v1/batch", json={"write_key": key, "batch": [probe]}
                )
                acked = time.monotonic()
                if response.status_code // 100 == 2:
                    seen = await live_after(client, s.worker_url, "demo", customer, acked, 10.0)
                    if seen is not None:
                        latencies.append(seen)
                i += 1
                await asyncio.sleep(0.3)

        await asyncio.gather(steady(), probes())
    return latencies


def faust_relay(env: dict[str, str], events: int) -> float:
    """Events/s of a bare Faust agent relaying each event (``footfall.bench_relay``)."""
    result = subprocess.run(
        [sys.executable, "-m", "footfall.bench_relay", "worker"],
        env=os.environ | env | {"FOOTFALL_RELAY_EVENTS": str(events)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    # Faust's worker turns stdout into log lines: the figure may come on either stream.
    found = re.search(r"RELAY (\d+)", result.stdout + result.stderr)
    if found:
        return float(found.group(1))
    raise RuntimeError(f"the Faust relay gave no figure: {result.stderr[-2000:]}")


def store_bytes(data_dir: Path) -> int:
    total = 0
    for root, _, files in os.walk(data_dir):
        if "profiles" in root:
            total += sum((Path(root) / f).stat().st_size for f in files)
    return total


def compacted(data_dir: Path) -> tuple[int, int, int]:
    """Open each profile store of a stopped worker, compact it (only the latest value of a
    key stays, as RocksDB's own compactions leave it), and return its bytes on disk, the
    number of profiles in it and the bytes of their stored values."""
    profiles = values = 0
    for path in sorted(data_dir.rglob("profiles-*.db")):
        db = Rdict(str(path), Options(raw_mode=True))
        try:
            db.compact_range(None, None)
            for _, value in db.items():
                profiles += 1
                values += len(value)
        finally:
            db.close()
    return store_bytes(data_dir), profiles, values


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def run(
    events: int,
    customers: int,
    rate: int,
    seconds: float,
    say: Callable[[str], None],
    kind: BrokerKind = BrokerKind.kafka,
) -> None:
    with tempfile.TemporaryDirectory(prefix="footfall-bench-") as tmp:
        settings = private_stack_settings(Path(tmp), kind)
        batch = WorkerSettings(broker_kind=kind).producer_batch_limit
        say(describe(broker_facts(kind, settings.partitions, settings.kafka_heap_mb, batch)))
        with Stack(settings) as stack:
            logs = Path(tmp) / "logs"
            logs.mkdir()
            broker = stack.child("broker")
            broker.log_path = logs / "broker.log"
            stack.launch(broker)
            targets = [floor_topic(settings), relay_topic(settings)]
            extra = [NewTopic(name, settings.partitions, 1) for name in targets]
            asyncio.run(ensure_topics(settings, extra=extra))
            records = backlog(events, customers)
            asyncio.run(produce(settings, settings.topics.events, records))
            say(
                f"backlog: {events} events, {customers} customers, {settings.partitions} partitions"
            )
            raw = asyncio.run(floor(settings, events))
            say(f"floor (aiokafka consume + one 700-byte record per event): {raw:,.0f} events/s")
            worker = stack.child("worker")
            relay_env = worker.env | {"FOOTFALL_DATA_DIR": str(Path(tmp) / "relay")}
            relayed = faust_relay(relay_env, events)
            say(
                f"Faust floor (a bare Faust agent, one record produced per event, same Faust "
                f"settings): {relayed:,.0f} events/s = {100 * relayed / raw:.0f}% of the floor"
            )
            worker.log_path = logs / "worker.log"
            started = time.monotonic()
            stack.launch(worker)
            ready = time.monotonic() - started
            took = asyncio.run(folded(settings, events, timeout=600))
            rate_done = events / took
            say(
                f"one worker (RocksDB store): {rate_done:,.0f} events/s "
                f"= {100 * rate_done / raw:.0f}% of the floor, {100 * rate_done / relayed:.0f}%"
                " of the Faust floor (timed from the first snapshot;"
                f" start-up {ready:.1f}s"
                f" and group join left out)"
            )
            collector = stack.child("collector")
            collector.log_path = logs / "collector.log"
            stack.launch(collector)
            latencies = asyncio.run(freshness(stack, rate, seconds))
            say(
                f"freshness at {rate} events/s (2xx → live lookup), {len(latencies)} probes: "
                f"p50 {1000 * percentile(latencies, 0.5):.0f} ms, "
                f"p95 {1000 * percentile(latencies, 0.95):.0f} ms"
            )
            stack.kill("worker")
            on_disk = store_bytes(Path(tmp) / "worker")
            say(
                f"RocksDB profile store on disk after kill -9: {on_disk / customers:,.0f} bytes "
                f"per profile ({customers} profiles plus probes; WAL and SST files, every"
                " version written since start-up)"
            )
            at_rest, stored_profiles, stored_values = compacted(Path(tmp) / "worker")
            say(
                f"after compaction: {at_rest / max(1, stored_profiles):,.0f} bytes per profile "
                f"on disk, {stored_values / max(1, stored_profiles):,.0f} bytes of stored JSON "
                f"per profile ({stored_profiles} profiles)"
            )


def bench_processors_command(
    events: int = 20_000,
    customers: int = 2_000,
    rate: int = 2_000,
    seconds: float = 15.0,
    broker: BenchBroker = None,
) -> None:
    """Worker events/s next to the aiokafka floor; freshness p50/p95; bytes per profile."""
    run(events, customers, rate, seconds, print, bench_broker(broker))
