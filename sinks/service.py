"""The sink process: the ClickHouse writer plus the read-only SQL endpoint.

The HTTP side starts at once; the store is opened in the background, waiting while another
process owns the embedded directory or the server does not answer. Until then the SQL endpoint
answers 503 with ``Retry-After``, ``/readyz`` is 503 and ``/healthz`` says what the sink
waits for.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from footfall.lag import LagCollector, LagMonitor
from sinks.clickhouse import Store, open_when_available
from sinks.engine import open_store, reads_of
from sinks.migrate import apply_events_ttl, apply_ttl, migrate_up
from sinks.privacy import SinkErasure
from sinks.privacy_api import PrivacyProducer, privacy_router
from sinks.query_api import query_router
from sinks.settings import SinkSettings
from sinks.writer import ClickHouseWriter

log = logging.getLogger("footfall.sink")


@dataclass
class SinkState:
    client: Store | None = None
    writer: ClickHouseWriter | None = None
    waiting_for: str = "opening the store"


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
        ttl = settings.events_ttl_days
        for statement in await asyncio.to_thread(apply_events_ttl, client, ttl):
            log.info("events retention: %s", statement)
        for table, days in (
            ("dlq_events", settings.dlq_ttl_days),
            ("webhook_deliveries", settings.webhook_log_ttl_days),
        ):
            for statement in await asyncio.to_thread(apply_ttl, client, (table,), days):
                log.info("%s retention: %s", table, statement)
        state.writer = ClickHouseWriter(settings, client)
        state.client, state.waiting_for = client, ""
        await state.writer.run(stop)
    finally:
        state.client = None  # the SQL endpoint answers 503 from here on
        await asyncio.to_thread(client.close)


def create_app(settings: SinkSettings | None = None) -> FastAPI:
    settings = settings or SinkSettings()
    state = SinkState()
    lag = LagMonitor(settings.kafka_bootstrap_servers, [settings.group_id])
    registry = CollectorRegistry()
    registry.register(LagCollector(lag))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        task = asyncio.create_task(open_and_write(settings, state, stop))
        task.add_done_callback(crash_on_failure)
        lag_task = asyncio.create_task(lag.run(stop))  # counts the broker's errors
        try:
            yield
        finally:
            stop.set()
            if state.writer is None:
                task.cancel()
            await asyncio.wait([task, lag_task], timeout=10)
            await producer.close()

    app = FastAPI(title="Footfall ClickHouse sink", lifespan=lifespan)
    app.state.sink = state

    def reads() -> Store | None:
        """The SQL endpoint reads beside the writer, never queued behind its inserts."""
        return None if state.client is None else reads_of(state.client)

    producer = PrivacyProducer(settings)
    app.include_router(query_router(settings, reads, producer.audit))

    def erasure() -> SinkErasure | None:
        client = reads()
        if client is None:
            return None
        return SinkErasure(client, settings.partitions, settings.erasure_with_dispatcher)

    app.include_router(privacy_router(settings, producer, erasure))

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        """200 once the store is open and the writer runs; 503 while waiting for the store."""
        if state.writer is None:
            return JSONResponse({"ready": False, "waiting_for": state.waiting_for}, 503)
        return JSONResponse({"ready": True})

    @app.get("/metrics")
    async def metrics() -> Response:
        """Prometheus metrics: the sink group's lag per partition, read in the background."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz")
    async def healthz() -> dict[str, object]:
        if state.writer is None:
            return {"status": "waiting", "waiting_for": state.waiting_for}
        return {"status": "ok", "rows_written": state.writer.rows_written}

    return app


def crash_on_failure(task: asyncio.Task[None]) -> None:
    """A writer that died must take the process down, so its supervisor sees it."""
    if not task.cancelled() and task.exception() is not None:
        log.critical("ClickHouse writer failed", exc_info=task.exception())
        import os
        import signal

        os.kill(os.getpid(), signal.SIGTERM)
