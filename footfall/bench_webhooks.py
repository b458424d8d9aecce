"""``footfall bench webhooks``: deliveries per second to a local receiver, and the lag from an
order entering the collector to its webhook arriving (p50/p95).

The baseline, measured in the same run, is the same receiver hit directly by one client
with as many concurrent requests as the dispatcher may use per endpoint: the ceiling that
the dispatcher's figures are read against.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from base.config import BrokerKind
from footfall.bench_broker import BrokerFacts, broker_facts, private_stack_settings
from footfall.demo.sender import send_all
from footfall.stack import Stack, free_port
from stream_processors.settings import WorkerSettings


@dataclass
class Arrivals:
    """When each webhook arrived, by the event id in its payload."""

    at: dict[str, float] = field(default_factory=dict)
    posts: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def hook(self, request: Request) -> Response:
        body = await request.json()
        arrived = time.time()
        with self.lock:
            self.posts += 1
            data = body.get("data") or {}
            if "event_id" in data:
                self.at.setdefault(data["event_id"], arrived)
        return Response(status_code=204)


class LocalReceiver:
    def __init__(self, arrivals: Arrivals) -> None:
        self.port = free_port()
        app = Starlette(routes=[Route("/hook", arrivals.hook, methods=["POST"])])
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def __enter__(self) -> LocalReceiver:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@dataclass
class BenchReport:
    broker: BrokerFacts
    deliveries: int
    deliveries_per_s: float
    baseline_per_s: float
    lag_p50_ms: float
    lag_p95_ms: float
    lag_samples: int


def orders(count: int, tag: str) -> list[dict[str, Any]]:
    now = datetime.now(UTC).isoformat()
    return [
        {
            "event_id": str(uuid.uuid4()),
            "type": "order_placed",
            "anonymous_id": f"bench-{tag}-{n}",
            "customer_id": f"bench-{tag}-{n}",
            "occurred_at": now,
            "properties": {"order_id": f"{tag}-{n}", "total": "10.00", "currency": "EUR"},
        }
        for n in range(count)
    ]


async def baseline(url: str, count: int, concurrency: int) -> float:
    """POSTs per second straight to the receiver."""
    body = '{"data": {}}'
    queue = list(range(count))
    async with httpx.AsyncClient(timeout=10) as client:

        async def worker() -> None:
            while queue:
                queue.pop()
                await client.post(url, content=body, headers={"content-type": "application/json"})

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return count / (time.perf_counter() - started)


def wait_arrivals(arrivals: Arrivals, ids: set[str], timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while not ids <= arrivals.at.keys():
        if time.monotonic() > deadline:
            missing = len(ids - arrivals.at.keys())
            raise TimeoutError(f"{missing} of {len(ids)} webhooks did not arrive")
        time.sleep(0.02)
    return max(arrivals.at[i] for i in ids)


def percentile(values: list[float], share: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(share * 100) - 1]


def run_bench(
    deliveries: int = 2000,
    lag_samples: int = 100,
    concurrency: int = 4,
    data_dir: Path | None = None,
    on_progress: Callable[[str], None] = lambda _: None,
    kind: BrokerKind = BrokerKind.kafka,
) -> BenchReport:
    arrivals = Arrivals()
    with (
        tempfile.TemporaryDirectory(prefix="footfall-bench-") as tmp,
        LocalReceiver(arrivals) as receiver,
    ):
        os.environ["FOOTFALL_WEBHOOKS__ALLOW_NETWORKS"] = '["127.0.0.0/8"]'
        os.environ["FOOTFALL_WEBHOOKS__ENDPOINT_CONCURRENCY"] = str(concurrency)
        settings = private_stack_settings(data_dir or Path(tmp), kind)
        on_progress("measuring the baseline (direct POSTs)")
        base = asyncio.run(baseline(receiver.url, deliveries, concurrency))
        with Stack(settings) as stack:
            stack.start(on_progress)
            admin = httpx.Client(
                base_url=f"{settings.webhooks_url}/v1",
                headers={"Authorization": f"Bearer {settings.admin_token}"},
            )
            created = admin.post(
                "/subscriptions",
                json={
                    "id": "bench",
                    "site_id": "demo",
                    "url": receiver.url,
                    "events": ["order.placed"],
                },
            )
            created.raise_for_status()

            on_progress("warming up (consumer groups joining)")
            asyncio.run(measure_lag(settings.collector_url, arrivals, 1))
            on_progress(f"throughput: {deliveries} orders through the collector")
            batch = orders(deliveries, "t")
            started = time.time()
            asyncio.run(
                send_all(settings.collector_url, [("demo-secret-key", batch)], batch_size=100)
            )
            last = wait_arrivals(arrivals, {e["event_id"] for e in batch}, timeout=300)
            rate = deliveries / (last - started)

            on_progress(f"lag: {lag_samples} orders one at a time")
            lags = asyncio.run(measure_lag(settings.collector_url, arrivals, lag_samples))
    worker_batch = WorkerSettings(broker_kind=kind).producer_batch_limit
    return BenchReport(
        broker=broker_facts(kind, settings.partitions, settings.kafka_heap_mb, worker_batch),
        deliveries=deliveries,
        deliveries_per_s=rate,
        baseline_per_s=base,
        lag_p50_ms=percentile(lags, 0.5),
        lag_p95_ms=percentile(lags, 0.95),
        lag_samples=len(lags),
    )


async def measure_lag(collector_url: str, arrivals: Arrivals, samples: int) -> list[float]:
    lags = []
    async with httpx.AsyncClient(timeout=10) as client:
        for event in orders(samples, f"l{uuid.uuid4().hex[:6]}"):
            sent = time.time()
            response = await client.post(
                f"{collector_url}/v1/batch",
                json={"write_key": "demo-secret-key", "batch": [event]},
            )
            response.raise_for_status()
            arrived = await asyncio.to_thread(wait_arrivals, arrivals, {event["event_id"]}, 30)
            lags.append((arrived - sent) * 1000)
    return lags
