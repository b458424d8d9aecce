"""The collector: a FastAPI app that validates events and writes them to Kafka.

A 2xx is sent only after Kafka acknowledged every accepted event of the request; when Kafka
is unreachable or slow the answer is 503 with ``Retry-After`` and nothing is acknowledged.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from collector.batch import (
    BodyError,
    RecentIds,
    RequestFacts,
    dlq_record,
    kafka_key,
    parse_client_time,
    read_body,
    validate_batch,
)
from collector.enrich import server_context
from collector.settings import CollectorSettings, Site
from footfall.kafka import BrokerUnavailable, ensure_topics, start_producer
from schemas.events import Event, dump_event

log = logging.getLogger("footfall.collector")
STATIC_DIR = Path(__file__).parent / "static"


class KafkaDown(RuntimeError):
    """Kafka did not acknowledge in time; the client must retry later."""


@dataclass
class Collector:
    """The collector's resources, created in the lifespan."""

    settings: CollectorSettings
    producer: AIOKafkaProducer | None = None
    recent: RecentIds = field(default_factory=lambda: RecentIds(100_000))
    keys: dict[str, tuple[Site, bool]] = field(default_factory=dict)
    connect_task: asyncio.Task[None] | None = None

    def __post_init__(self) -> None:
        self.recent = RecentIds(self.settings.dedup_window)
        for site in self.settings.sites:
            self.keys[site.write_key] = (site, False)
            self.keys[site.secret_key] = (site, True)

    @property
    def ready(self) -> bool:
        return self.producer is not None

    async def connect(self) -> None:
        """Connect to Kafka, retrying in the background until it answers."""
        while self.producer is None:
            try:
                await ensure_topics(self.settings, timeout=5)
                self.producer = await start_producer(self.settings)
                log.info("connected to Kafka at %s", self.settings.kafka_bootstrap_servers)
            except BrokerUnavailable as exc:
                log.warning("Kafka unavailable, retrying: %s", exc)
                await asyncio.sleep(1)

    async def produce(self, events: list[Event], rejected: list[bytes]) -> None:
        """Send events (and DLQ records) and wait until Kafka acknowledged all of them."""
        if self.producer is None:
            raise KafkaDown("not connected to Kafka yet")
        topics = self.settings.topics
        try:
            async with asyncio.timeout(self.settings.produce_timeout_s):
                futures = [
                    await self.producer.send(topics.events, dump_event(event), key=kafka_key(event))
                    for event in events
                ]
                futures += [await self.producer.send(topics.dlq, record) for record in rejected]
                await asyncio.gather(*futures)
        except (KafkaError, TimeoutError) as exc:
            raise KafkaDown(f"Kafka did not acknowledge: {exc!r}") from exc


def report_failure(task: asyncio.Task[None]) -> None:
    """The Kafka connection task must never die unnoticed."""
    if not task.cancelled() and task.exception() is not None:
        log.critical("cannot connect to Kafka", exc_info=task.exception())


def get_collector(request: Request) -> Collector:
    collector: Collector = request.app.state.collector
    return collector


CollectorDep = Annotated[Collector, Depends(get_collector)]


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


async def read_limited(request: Request, limit: int) -> bytes:
    """Read the body, refusing it as soon as it passes ``limit`` bytes (before parsing)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise OverflowError
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise OverflowError
        chunks.append(chunk)
    body = b"".join(chunks)
    if request.headers.get("content-encoding", "").lower() == "gzip":
        try:
            decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
            body = decompressor.decompress(body, limit + 1)
        except zlib.error as exc:
            raise BodyError(f"body is not valid gzip: {exc}") from None
        if len(body) > limit or decompressor.unconsumed_tail:
            raise OverflowError
    return body


def resolve_key(
    collector: Collector, request: Request, data: dict[str, Any]
) -> tuple[Site, bool] | None:
    key = data.get("write_key")
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        key = auth[7:].strip()
    key = request.headers.get("x-footfall-key", key)
    return collector.keys.get(key) if isinstance(key, str) else None


def same_origin(origin: str, request: Request) -> bool:
    """The collector's own pages (the demo shop) may always send events."""
    return origin == f"{request.url.scheme}://{request.headers.get('host', '')}"


def origin_allowed(origin: str, site: Site, request: Request) -> bool:
    return origin in site.allowed_origins or same_origin(origin, request)


def create_app(settings: CollectorSettings | None = None) -> FastAPI:
    settings = settings or CollectorSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        collector = Collector(settings)
        app.state.collector = collector
        collector.connect_task = asyncio.create_task(collector.connect())
        collector.connect_task.add_done_callback(report_failure)
        try:
            yield
        finally:
            collector.connect_task.cancel()
            if collector.producer is not None:
                await collector.producer.stop()

    app = FastAPI(title="Footfall collector", version="0.1.0", lifespan=lifespan)
    origins = {origin for site in settings.sites for origin in site.allowed_origins}

    @app.middleware("http")
    async def cors(request: Request, call_next: Any) -> Response:
        origin = request.headers.get("origin")
        if request.method == "OPTIONS" and origin:
            if origin not in origins:
                return Response(status_code=403)
            return Response(
                status_code=204,
                headers={
                    "Access-Control-Allow-Origin": origin,
                    "Access-Control-Allow-Methods": "POST, GET, OPTIONS",
                    "Access-Control-Allow-Headers": "Content-Type, Content-Encoding, "
                    "Authorization, X-Footfall-Key",
                    "Access-Control-Max-Age": "86400",
                    "Vary": "Origin",
                },
            )
        response: Response = await call_next(request)
        if origin and origin in origins:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Expose-Headers"] = "Retry-After"
            response.headers["Vary"] = "Origin"
        return response

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz(collector: CollectorDep) -> JSONResponse:
        if collector.ready:
            return JSONResponse({"ready": True})
        return JSONResponse({"ready": False, "reason": "Kafka unreachable"}, status_code=503)

    @app.post("/v1/batch")
    async def batch(request: Request, collector: CollectorDep) -> JSONResponse:
        """Accept a batch of events; each bad event is rejected on its own with a reason."""
        received_at = datetime.now(UTC)
        try:
            data = read_body(await read_limited(request, settings.max_body_bytes))
        except OverflowError:
            return error(413, f"body larger than {settings.max_body_bytes} bytes")
        except BodyError as exc:
            return error(400, str(exc))
        resolved = resolve_key(collector, request, data)
        if resolved is None:
            return error(401, "unknown or missing write key")
        site, verified = resolved
        origin = request.headers.get("origin")
        if origin and not verified and not origin_allowed(origin, site, request):
            return error(403, f"origin {origin} is not allowed for site {site.site_id}")
        raw_events: list[Any] = data["batch"]
        if len(raw_events) > settings.max_batch_events:
            return error(413, f"more than {settings.max_batch_events} events in one batch")
        facts = RequestFacts(
            site_id=site.site_id,
            verified=verified,
            received_at=received_at,
            sent_at=parse_client_time(data.get("sent_at")),
            max_clock_skew=timedelta(seconds=settings.max_clock_skew_s),
            max_extra_fields=settings.max_extra_fields,
        )
        client = request.client.host if request.client else None
        context = server_context(client, request.headers.get("user-agent"))
        result = validate_batch(raw_events, facts, context)
        fresh = [e for e in result.accepted if str(e.event_id) not in collector.recent]
        rejected = [dlq_record(r, site.site_id, received_at) for r in result.rejected]
        try:
            await collector.produce(fresh, rejected)
        except KafkaDown as exc:
            log.warning("answering 503: %s", exc)
            return error(
                503,
                "event store unavailable, retry later",
                {"Retry-After": str(settings.retry_after_s)},
            )
        for event in fresh:
            collector.recent.add(str(event.event_id))
        return JSONResponse(
            {
                "accepted": len(result.accepted),
                "duplicates": len(result.accepted) - len(fresh),
                "rejected": [r.as_response() for r in result.rejected],
            }
        )

    @app.get("/v1/footfall.js")
    async def snippet() -> Response:
        path = STATIC_DIR / "footfall.js"
        if not path.exists():
            return error(404, "snippet not built")
        return Response(
            path.read_bytes(),
            media_type="application/javascript",
            headers={"Cache-Control": "public, max-age=300"},
        )

    shop = STATIC_DIR / "shop"
    if shop.is_dir():
        app.mount("/shop", StaticFiles(directory=shop, html=True), name="shop")
    return app


def gzip_body(body: bytes) -> bytes:
    """Compress a request body the way a client may send it (used by tools and tests)."""
    return gzip.compress(body)
