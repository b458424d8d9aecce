"""The sink process: the ClickHouse writer plus the read-only SQL endpoint.

The HTTP side starts at once; the store is opened in the background, waiting while another
process owns the embedded directory or the server does not answer. Until then the SQL endpoint
answers 503 with ``Retry-After``, ``/readyz`` is 503 and ``/healthz`` says what the sink
waits for.

``/livez`` is 200 while the writer's task runs. ``/readyz`` is 200 only while the store is
open and answers the probe within ``FOOTFALL_HEALTH__STORE_TIMEOUT_S``, the consumer holds
partitions and no partition's commit stood still for ``FOOTFALL_HEALTH__COMMIT_STALL_S`` with
records to read (see ``base.health``); else 503 with the reasons.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse

from base.health import lag_problems, liveness, readiness
from base.lag import LagMonitor
from base.metrics import exposition, process_registry
from sinks.clickhouse import Store, open_when_available
from sinks.engine import open_store, reads_of
from sinks.metrics import SinkMetrics
from sinks.migrate import migrate_up
from sinks.privacy import SinkErasure
from sinks.privacy_api import PrivacyProducer, privacy_router
from sinks.probe import StoreProbe
from sinks.query_api import query_router
from sinks.retention import apply_retention
from sinks.settings import SinkSettings
from sinks.writer import ClickHouseWriter

log = logging.getLogger("footfall.sink")


@dataclass
class SinkState:
    metrics: SinkMetrics
    client: Store | None = None
    writer: ClickHouseWriter | None = None
    waiting_for: str = "opening the store"


def sink_problems(
    state: SinkState, probe: StoreProbe, lag: LagMonitor, settings: SinkSettings
) -> list[str]:
    """Why the sink cannot store rows now (empty when it can)."""
    if state.writer is None:
        return [f"waiting for the store: {state.waiting_for}"]
    limits = settings.health
    problems = [] if (why := probe.problem(limits.store_timeout_s)) is None else [why]
    if state.writer.assigned() == 0:
        problems.append(
            "consumer: no partition assigned (joining the group, or more sinks than partitions)"
        )
    return problems + lag_problems(lag, limits, [settings.group_id])


async def open_and_write(settings: SinkSettings, state: SinkState, stop: asyncio.Event) -> None:
    """Open the store (waiting as long as it takes), migrate, then write until ``stop``."""

    def waiting(reason: str) -> None:
        state.waiting_for = reason

    client = await open_when_available(
        settings.clickhouse_url, settings.retry_max_backoff_s, waiting, open_store
    )
    try:
        for migration in await asyncio.to_thread(migrate_up, client):
            log.info("applied migration %04d_%s", migration.version, migration.name)
        retention = (client, settings.retention_defaults(), settings.retention_sites)
        for statement in await asyncio.to_thread(apply_retention, *retention):
            log.info("retention: %s", statement)
        state.writer = ClickHouseWriter(settings, client, state.metrics)
        state.client, state.waiting_for = client, ""
        await state.writer.run(stop)
    finally:
        state.client = None  # the SQL endpoint answers 503 from here on
        await asyncio.to_thread(client.close)


def create_app(settings: SinkSettings | None = None) -> FastAPI:
    settings = settings or SinkSettings()
    lag = LagMonitor(
        settings.kafka_bootstrap_servers, [settings.group_id], topic_prefix=settings.topic_prefix
    )

    def problems() -> list[str]:
        return sink_problems(state, probe, lag, settings)

    registry = process_registry("sink", problems, lag)
    metrics = SinkMetrics(registry)
    state = SinkState(metrics)

    def reads() -> Store | None:
        """The SQL endpoint reads beside the writer, never queued behind its inserts."""
        return None if state.client is None else reads_of(state.client)

    probe = StoreProbe(reads, metrics)
    tasks: list[asyncio.Task[None]] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        task = asyncio.create_task(open_and_write(settings, state, stop))
        task.add_done_callback(crash_on_failure)
        lag_task = asyncio.create_task(lag.run(stop))  # counts the broker's errors
        probe_task = asyncio.create_task(probe.run(stop))
        tasks[:] = [task, lag_task, probe_task]
        try:
            yield
        finally:
            stop.set()
            if state.writer is None:
                task.cancel()
            await asyncio.wait([task, lag_task], timeout=10)
            probe_task.cancel()  # a probe of a frozen store never returns
            await producer.close()

    app = FastAPI(title="Footfall ClickHouse sink", lifespan=lifespan)
    app.state.sink = state
    producer = PrivacyProducer(settings)
    app.include_router(query_router(settings, reads, producer.audit, metrics.sql_seconds))

    def erasure() -> SinkErasure | None:
        client = reads()
        if client is None:
            return None
        return SinkErasure(client, settings.partitions, settings.erasure_with_dispatcher)

    app.include_router(privacy_router(settings, producer, erasure))

    @app.get("/livez")
    async def livez() -> JSONResponse:
        """200 while the writer, the lag reading and the store probe run."""
        names = ("writer", "lag monitor", "store probe")
        status, body = liveness([n for n, t in zip(names, tasks, strict=True) if t.done()])
        return JSONResponse(body, status)

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        """200 while the sink can store rows; else 503 with the reasons."""
        status, body = readiness(problems())
        if state.writer is None:
            body["waiting_for"] = state.waiting_for
        return JSONResponse(body, status)

    @app.get("/metrics")
    async def prometheus_metrics() -> Response:
        """Prometheus text format: rows, inserts, commits, latency, lag, readiness, sizes."""
        body, content_type = exposition(registry)
        return Response(body, media_type=content_type)

    @app.get("/healthz")
    async def healthz() -> dict[str, object]:
        """A summary for people: waiting, ok or not ready (with the reasons), rows written."""
        if state.writer is None:
            return {"status": "waiting", "waiting_for": state.waiting_for}
        found = problems()
        status = "not ready" if found else "ok"
        return {"status": status, "problems": found, "rows_written": state.writer.rows_written}

    return app


def crash_on_failure(task: asyncio.Task[None]) -> None:
    """A writer that died must take the process down, so its supervisor sees it."""
    if not task.cancelled() and task.exception() is not None:
        log.critical("ClickHouse writer failed", exc_info=task.exception())
        os.kill(os.getpid(), signal.SIGTERM)
