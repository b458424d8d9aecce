"""The sink process: the ClickHouse writer plus the read-only SQL endpoint."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from sinks.clickhouse import connect
from sinks.migrate import migrate_up
from sinks.query_api import query_router
from sinks.settings import SinkSettings
from sinks.writer import ClickHouseWriter

log = logging.getLogger("footfall.sink")


def create_app(settings: SinkSettings | None = None) -> FastAPI:
    settings = settings or SinkSettings()
    client = connect(settings.clickhouse_url)
    applied = migrate_up(client)
    for migration in applied:
        log.info("applied migration %04d_%s", migration.version, migration.name)
    writer = ClickHouseWriter(settings, client)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        task = asyncio.create_task(writer.run(stop))
        task.add_done_callback(crash_on_failure)
        try:
            yield
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=10)

    app = FastAPI(title="Footfall ClickHouse sink", lifespan=lifespan)
    app.state.writer = writer
    app.include_router(query_router(settings, client))

    @app.get("/healthz")
    async def healthz() -> dict[str, object]:
        return {"status": "ok", "rows_written": writer.rows_written}

    return app


def crash_on_failure(task: asyncio.Task[None]) -> None:
    """A writer that died must take the process down, so its supervisor sees it."""
    if not task.cancelled() and task.exception() is not None:
        log.critical("ClickHouse writer failed", exc_info=task.exception())
        import os
        import signal

        os.kill(os.getpid(), signal.SIGTERM)
