"""The collector: a FastAPI app that validates events and writes them to Kafka.

Endpoints: ``POST /v1/batch`` and ``POST /v1/event`` (JSON, also sent as ``text/plain`` by
browsers and optionally gzip-compressed), the Segment-compatible API under ``/segment``,
``/healthz``, ``/readyz``, ``/metrics`` and the OpenAPI docs at ``/docs``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from base.health import liveness, readiness
from base.metrics import exposition, process_registry
from collector.batch import BodyError, client_sent_at, read_body
from collector.edge import EdgeMiddleware
from collector.ingest import (
    Collector,
    Refused,
    check_origin,
    get_collector,
    ingest,
    read_request_body,
)
from collector.metrics import CollectorMetrics
from collector.openapi import RESPONSES, body_doc, with_event_schemas
from collector.segment import (
    SEGMENT_PATHS,
    answered_as_segment,
    receive_segment_batch,
    segment_error,
    segment_router,
    segment_shaped,
)
from collector.settings import CollectorSettings

__all__ = ["Collector", "create_app"]

log = logging.getLogger("footfall.collector")
STATIC_DIR = Path(__file__).parent / "static"
MEASURED_PATHS = frozenset({"/v1/batch", "/v1/event"}) | SEGMENT_PATHS


def report_failure(task: asyncio.Task[None]) -> None:
    """The Kafka connection task must never die unnoticed."""
    if not task.cancelled() and task.exception() is not None:
        log.critical("cannot connect to Kafka", exc_info=task.exception())


CollectorDep = Annotated[Collector, Depends(get_collector)]


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def presented_key(request: Request, data: dict[str, Any]) -> object:
    """The key of a request: ``X-Footfall-Key``, a bearer token, or ``write_key`` in the body."""
    key: object = data.get("write_key")
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        key = auth[7:].strip()
    return request.headers.get("x-footfall-key", key)


def create_app(settings: CollectorSettings | None = None) -> FastAPI:
    settings = settings or CollectorSettings()
    holder: list[Collector] = []

    def problems() -> list[str]:
        """Ready only while connected to Kafka."""
        if holder and holder[0].ready:
            return []
        return ["Kafka unreachable: the producer is not connected (answering 503)"]

    metrics = CollectorMetrics(process_registry("collector", problems))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        collector = Collector(settings, metrics=metrics)
        app.state.collector = collector
        holder[:] = [collector]
        collector.connect_task = asyncio.create_task(collector.connect())
        collector.connect_task.add_done_callback(report_failure)
        try:
            yield
        finally:
            collector.connect_task.cancel()
            if collector.producer is not None:
                await collector.producer.stop()

    app = FastAPI(
        title="Footfall collector",
        version="0.2.0",
        lifespan=lifespan,
        description="Event ingestion: per-event validation, at-least-once into Kafka.",
    )
    origins = frozenset(origin for site in settings.sites for origin in site.allowed_origins)

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> JSONResponse:
        if answered_as_segment(request):
            return segment_error(exc.status, exc.message, exc.headers)
        return error(exc.status, exc.message, exc.headers)

    app.add_middleware(
        EdgeMiddleware, origins=origins, metrics=metrics, measured_paths=MEASURED_PATHS
    )

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """The process is alive."""
        return {"status": "ok"}

    @app.get("/livez")
    async def livez() -> JSONResponse:
        """The loop answers (the producer reconnects by itself, it never stops the process)."""
        status, body = liveness([])
        return JSONResponse(body, status_code=status)

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        """Ready only while connected to Kafka; else 503 with the reason."""
        status, body = readiness(problems())
        return JSONResponse(body, status_code=status)

    @app.get("/metrics")
    async def prometheus_metrics() -> Response:
        """Prometheus text format (per process)."""
        body, content_type = exposition(metrics.registry)
        return Response(body, media_type=content_type)

    async def read_json(request: Request) -> dict[str, Any]:
        try:
            return read_body(await read_request_body(request, settings))
        except BodyError as exc:
            raise Refused(400, str(exc)) from None

    @app.post("/v1/batch", openapi_extra=body_doc("Batch"), responses=RESPONSES)
    async def batch(request: Request, collector: CollectorDep) -> JSONResponse:
        """Accept a batch ``{"write_key", "sent_at", "batch": [...]}``.

        Each bad event is rejected on its own: the answer lists its index and reason, and
        the raw event goes to the DLQ topic. 401 unknown key, 403 origin not allowed for
        the site, 413 too large, 429 rate limited and 503 Kafka unavailable (both with
        ``Retry-After``). A Segment SDK's batch (basic auth or ``writeKey``) is read as
        ``/segment/v1/batch``: ``@segment/analytics-node`` posts here whatever its host's path.
        """
        collector.admit(request)
        data = await read_json(request)
        if segment_shaped(request, data):
            return await receive_segment_batch(request, data)
        credentials = collector.authenticate(presented_key(request, data))
        check_origin(credentials, request)
        sent_at = client_sent_at(data.get("sent_at"))
        return JSONResponse(await ingest(collector, request, credentials, data["batch"], sent_at))

    @app.post("/v1/event", openapi_extra=body_doc("Event"), responses=RESPONSES)
    async def event(request: Request, collector: CollectorDep) -> JSONResponse:
        """Accept one event (the event object itself, with ``write_key`` or a key header)."""
        collector.admit(request)
        data = await read_json(request)
        if len(data["batch"]) != 1:
            raise Refused(400, "send one event object; use /v1/batch for several")
        credentials = collector.authenticate(presented_key(request, data))
        check_origin(credentials, request)
        sent_at = client_sent_at(data.get("sent_at"))
        raw = data["batch"][0]
        if isinstance(raw, dict):
            raw = {k: v for k, v in raw.items() if k != "write_key"}
        return JSONResponse(await ingest(collector, request, credentials, [raw], sent_at))

    app.include_router(segment_router(settings), prefix="/segment")

    @app.get("/v1/footfall.js")
    async def snippet() -> Response:
        """The storefront snippet."""
        path = STATIC_DIR / "footfall.js"
        if not path.exists():
            return error(404, "snippet not built")
        return Response(
            path.read_bytes(),
            media_type="application/javascript",
            headers={"Cache-Control": "public, max-age=300"},
        )

    generated = app.openapi
    app.openapi = lambda: with_event_schemas(generated())  # type: ignore[method-assign]

    shop = STATIC_DIR / "shop"
    if shop.is_dir():
        app.mount("/shop", StaticFiles(directory=shop, html=True), name="shop")
    return app
