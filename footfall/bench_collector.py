"""``footfall bench collector``: collector throughput next to a raw aiokafka producer.

One local broker; for each worker count the collector runs under uvicorn, and for each batch
size an async client keeps ``concurrency`` requests in flight for ``duration_s`` seconds.
The baseline is a raw aiokafka producer (the collector's producer options) sending the same
events, ``batch`` records per awaited round, with the same concurrency, to the same broker.
The load generator runs on the same machine and takes CPU from the collector.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

from base.config import BrokerKind
from base.kafka import ensure_topics, start_producer
from collector.settings import CollectorSettings
from footfall.bench_broker import BrokerFacts, broker_facts
from footfall.brokers import free_port, start_broker


@dataclass(frozen=True)
class Cell:
    label: str
    batch: int
    events_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int


def event(anonymous_id: str) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "type": "page_view",
        "anonymous_id": anonymous_id,
        "occurred_at": datetime.now(UTC).isoformat(),
        "context": {"url": "https://shop.example/p/1", "title": "A product page"},
        "properties": {},
    }


def kafka_key(raw: dict[str, Any]) -> bytes:
    return f"demo:{raw['anonymous_id']}".encode()


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def summarise(label: str, batch: int, latencies: list[float], errors: int, wall: float) -> Cell:
    return Cell(
        label,
        batch,
        len(latencies) * batch / wall,
        percentile(latencies, 0.5) * 1000,
        percentile(latencies, 0.99) * 1000,
        errors,
    )


async def load(
    send: Callable[[int], Any], concurrency: int, duration_s: float
) -> tuple[list[float], int, float]:
    """Keep ``concurrency`` sends in flight; latencies of the successful ones."""
    latencies: list[float] = []
    errors = 0
    started = time.perf_counter()
    deadline = started + duration_s

    async def worker(number: int) -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            begin = time.perf_counter()
            if await send(number):
                latencies.append(time.perf_counter() - begin)
            else:
                errors += 1

    await asyncio.gather(*(worker(n) for n in range(concurrency)))
    return latencies, errors, time.perf_counter() - started


async def bench_http(url: str, batch: int, concurrency: int, duration_s: float) -> Cell:
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:

        async def send(number: int) -> bool:
            events = [event(f"bench-{number}-{i}") for i in range(batch)]
            body = orjson.dumps({"write_key": "demo-secret-key", "batch": events})
            answer = await client.post(
                "/v1/batch", content=body, headers={"Content-Type": "text/plain"}
            )
            return answer.status_code == 200

        await send(0)
        latencies, errors, wall = await load(send, concurrency, duration_s)
    return summarise("", batch, latencies, errors, wall)


async def bench_raw(
    settings: CollectorSettings, batch: int, concurrency: int, duration_s: float
) -> Cell:
    producer = await start_producer(settings)
    topic = settings.topics.events
    try:

        async def send(number: int) -> bool:
            events = [event(f"bench-{number}-{i}") for i in range(batch)]
            futures = [
                await producer.send(
                    topic, orjson.dumps(e), key=f"demo:{e['anonymous_id']}".encode()
                )
                for e in events
            ]
            await asyncio.gather(*futures)
            return True

        await send(0)
        latencies, errors, wall = await load(send, concurrency, duration_s)
    finally:
        await producer.stop()
    return summarise("raw aiokafka", batch, latencies, errors, wall)


def start_collector(
    settings: CollectorSettings, workers: int, log: Path
) -> tuple[subprocess.Popen[bytes], str]:
    """``uvicorn --workers N`` on a free port, returned once ready, with its URL."""
    port = free_port()
    env = os.environ | {
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "FOOTFALL_BROKER_KIND": settings.broker_kind.value,
        "FOOTFALL_PARTITIONS": str(settings.partitions),
        "FOOTFALL_RATE_LIMIT_PER_KEY": "10000000/second",
        "FOOTFALL_RATE_LIMIT_PER_IP": "10000000/second",
        "FOOTFALL_FLOOD_THRESHOLD": "100000000",
        "FOOTFALL_PORT": str(port),
    }
    command = [sys.executable, "-m", "uvicorn", "--factory", "collector.app:create_app"]
    command += ["--port", str(port), "--workers", str(workers), "--log-level", "warning"]
    command += ["--no-access-log"]
    process = subprocess.Popen(command, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return process, f"http://127.0.0.1:{port}"
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            raise RuntimeError(f"collector did not become ready; see {log}")
        time.sleep(0.2)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def run_bench(
    batches: tuple[int, ...] = (1, 20, 100),
    workers: tuple[int, ...] = (1, 2),
    concurrency: int = 16,
    duration_s: float = 3.0,
    on_progress: Callable[[str], None] = lambda _: None,
    broker_kind: BrokerKind = BrokerKind.kafka,
    heap_mb: int = 1024,
) -> tuple[BrokerFacts, list[Cell]]:
    """Start a broker, measure every cell, stop everything; what it ran on, and the cells
    in table order."""
    tmp = Path(tempfile.mkdtemp(prefix="footfall-bench-"))
    on_progress(f"starting the {broker_kind.value} broker")
    broker = start_broker(broker_kind, tmp, heap_mb)
    settings = CollectorSettings(kafka_bootstrap_servers=broker.bootstrap, broker_kind=broker_kind)
    facts = broker_facts(broker_kind, settings.partitions, heap_mb)
    cells: list[Cell] = []
    try:
        asyncio.run(ensure_topics(settings))
        for batch in batches:
            on_progress(f"raw producer, batch {batch}")
            cells.append(asyncio.run(bench_raw(settings, batch, concurrency, duration_s)))
        for count in workers:
            on_progress(f"starting collector with {count} worker(s)")
            process, base = start_collector(settings, count, tmp / f"collector-{count}.log")
            try:
                for batch in batches:
                    on_progress(f"collector, {count} worker(s), batch {batch}")
                    cell = asyncio.run(bench_http(base, batch, concurrency, duration_s))
                    label = f"collector, {count} worker{'s' if count > 1 else ''}"
                    cells.append(Cell(label, *_fields(cell)))
            finally:
                stop(process)
    finally:
        broker.kill()
    shutil.rmtree(tmp, ignore_errors=True)  # kept only after a failure, for its logs
    return facts, cells


def _fields(cell: Cell) -> tuple[int, float, float, float, int]:
    return cell.batch, cell.events_per_s, cell.p50_ms, cell.p99_ms, cell.errors


def share_of_raw(cells: list[Cell], cell: Cell) -> float | None:
    raw = [c for c in cells if c.label == "raw aiokafka" and c.batch == cell.batch]
    return cell.events_per_s / raw[0].events_per_s if raw and raw[0].events_per_s else None
