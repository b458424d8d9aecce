"""The collector's resources and the one path every endpoint's events take to Kafka.

A 2xx is sent only after Kafka acknowledged every accepted event of the request; when Kafka
is unreachable or slow the answer is 503 with ``Retry-After`` and nothing is acknowledged.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from fastapi import Request

from base.kafka import REQUEST_ID_HEADER, BrokerUnavailable, ensure_topics, start_producer
from collector.batch import (
    BodyError,
    RecentIds,
    RequestFacts,
    dlq_record,
    kafka_key,
    validate_batch,
)
from collector.enrich import server_context
from collector.geo import CountryLookup, load_country_lookup
from collector.guard import DIVERSIONS, AbuseGuard, Diversion, Throttled, overflow_reason
from collector.metrics import CollectorMetrics, reason_kind
from collector.proxy import TrustedProxies
from collector.settings import CollectorSettings, Site, hash_key
from schemas.events import EVENT_MODELS, Envelope, Event

log = logging.getLogger("footfall.collector")


class Refused(Exception):
    """The whole request is refused with this status (answered as JSON ``{"error"}``)."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


@dataclass(frozen=True)
class Credentials:
    site: Site
    verified: bool
    key_hash: str


@dataclass
class Collector:
    """The collector's resources, created in the lifespan."""

    settings: CollectorSettings
    producer: AIOKafkaProducer | None = None
    metrics: CollectorMetrics = field(default_factory=CollectorMetrics)
    recent: RecentIds = field(default_factory=lambda: RecentIds(1))
    keys: dict[str, tuple[Site, bool]] = field(default_factory=dict)
    guard: AbuseGuard | None = None
    countries: CountryLookup | None = None
    proxies: TrustedProxies = field(default_factory=TrustedProxies)
    connect_task: asyncio.Task[None] | None = None

    def __post_init__(self) -> None:
        self.recent = RecentIds(self.settings.dedup_window)
        self.guard = AbuseGuard(self.settings)
        self.proxies = TrustedProxies.of(self.settings.trusted_proxies)
        for site in self.settings.sites:
            self.keys[site.write_key_sha256] = (site, False)
            self.keys[site.secret_key_sha256] = (site, True)
        if self.settings.geoip_csv is not None:
            self.countries = load_country_lookup(self.settings.geoip_csv)

    @property
    def ready(self) -> bool:
        return self.producer is not None

    def client_ip(self, request: Request) -> str | None:
        """The client's address (``X-Forwarded-For`` only from a trusted proxy)."""
        peer = request.client.host if request.client else None
        return self.proxies.client_ip(peer, request.headers.getlist("x-forwarded-for"))

    def admit(self, request: Request) -> None:
        """The per-IP limit, first thing on every ingestion request, whatever its key."""
        assert self.guard is not None
        self.refuse_if(self.guard.check_ip(self.client_ip(request)))

    def refuse_if(self, throttled: Throttled | None) -> None:
        if throttled is not None:
            self.metrics.throttled.labels(throttled.scope).inc()
            raise Refused(
                429,
                f"rate limit per {throttled.scope} exceeded",
                {"Retry-After": str(throttled.retry_after_s)},
            )

    def authenticate(self, key: object) -> Credentials:
        if not isinstance(key, str) or not key:
            raise Refused(401, "unknown or missing write key")
        digest = hash_key(key)
        found = self.keys.get(digest)
        if found is None:
            raise Refused(401, "unknown or missing write key")
        return Credentials(found[0], found[1], digest)

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

    async def produce(
        self, records: list[tuple[str, bytes, bytes | None]], request_id: str = ""
    ) -> None:
        """Send (topic, value, key) records, each with the request id as a header; return once
        Kafka acknowledged all of them."""
        if self.producer is None:
            raise BrokerUnavailable("not connected to Kafka yet")
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.settings.produce_timeout_s):
                headers = [(REQUEST_ID_HEADER, request_id.encode())] if request_id else None
                futures = [
                    await self.producer.send(topic, value, key=key, headers=headers)
                    for topic, value, key in records
                ]
                await asyncio.gather(*futures)
        except (KafkaError, TimeoutError) as exc:
            raise BrokerUnavailable(f"Kafka did not acknowledge: {exc!r}") from exc
        self.metrics.produce_seconds.observe(time.perf_counter() - started)


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


async def read_request_body(request: Request, settings: CollectorSettings) -> bytes:
    """The (decompressed) body within the size cap and the slow-body deadline."""
    try:
        async with asyncio.timeout(settings.body_timeout_s):
            return await read_limited(request, settings.max_body_bytes)
    except OverflowError:
        raise Refused(413, f"body larger than {settings.max_body_bytes} bytes") from None
    except TimeoutError:
        raise Refused(408, "request body not received in time") from None
    except BodyError as exc:
        raise Refused(400, str(exc)) from None


def dedup_key(event: Envelope) -> str:
    """Event ids are the client's: two sites may use the same one (a Segment messageId such
    as ``order-1001``), so a duplicate is the same id within one site."""
    return f"{event.site_id}:{event.event_id}"


async def ingest(
    collector: Collector,
    request: Request,
    credentials: Credentials,
    raw_events: list[Any],
    sent_at: datetime | None,
) -> dict[str, Any]:
    """Validate, enrich, route and produce a request's events; the response body.

    ``accepted`` counts every event Kafka acknowledged, the diverted ones included (they are
    stored, in the overflow topic); ``diverted`` says how many of them went there and why.
    The per-IP limit was counted by :meth:`Collector.admit` before authentication."""
    settings = collector.settings
    guard = collector.guard
    assert guard is not None
    ip = collector.client_ip(request)
    collector.refuse_if(guard.check_key(credentials.key_hash))
    if len(raw_events) > settings.max_batch_events:
        raise Refused(413, f"more than {settings.max_batch_events} events in one batch")
    site = credentials.site
    received_at = datetime.now(UTC)
    facts = RequestFacts(
        site_id=site.site_id,
        verified=credentials.verified,
        received_at=received_at,
        sent_at=sent_at,
        max_clock_skew=timedelta(seconds=settings.max_clock_skew_s),
        max_extra_fields=settings.max_extra_fields,
        analytics_consent=site.analytics_consent,
        anonymize_key=site.secret_key_sha256,
        personal_traits=site.personal_traits,
        personal_key=settings.personal_key(site.site_id),
    )
    country = collector.countries.country(ip) if collector.countries else None
    context = server_context(ip, request.headers.get("user-agent"), country)
    result = validate_batch(raw_events, facts, context)
    seen: set[str] = set()
    fresh: list[tuple[Event, bytes]] = []
    for event, encoded in zip(result.accepted, result.encoded, strict=True):
        event_id = dedup_key(event)
        if event_id not in collector.recent and event_id not in seen:
            seen.add(event_id)
            fresh.append((event, encoded))
    topics = settings.topics
    records: list[tuple[str, bytes, bytes | None]] = []
    routed: list[tuple[str, str]] = []
    diverted: dict[Diversion, int] = dict.fromkeys(DIVERSIONS, 0)
    flooding = guard.flooding(site.site_id, [event.anonymous_id for event, _ in fresh])
    for (event, encoded), flood in zip(fresh, flooding, strict=True):
        reason = overflow_reason(event, guard.placeholders, flood, credentials.verified)
        if reason is None:
            records.append((topics.events, encoded, kafka_key(event)))
            routed.append((event.type, topics.events))
        else:
            records.append((topics.overflow, encoded, event.event_id.bytes))
            routed.append((event.type, topics.overflow))
            diverted[reason] += 1
    records += [
        (topics.dlq, dlq_record(r, site.site_id, received_at), None) for r in result.rejected
    ]
    rid = getattr(request.state, "request_id", "")
    try:
        await collector.produce(records, rid)
    except BrokerUnavailable as exc:
        log.warning("answering 503: %s", exc, extra={"request_id": rid})
        retry = {"Retry-After": str(settings.retry_after_s)}
        raise Refused(503, "event store unavailable, retry later", retry) from exc
    for event, _ in fresh:
        collector.recent.add(dedup_key(event))
    metrics = collector.metrics
    for event_type, topic in routed:
        metrics.accepted.labels(event_type, topic).inc()
    for rejection in result.rejected:
        raw_type = rejection.raw.get("type") if isinstance(rejection.raw, dict) else None
        label = raw_type if isinstance(raw_type, str) and raw_type in EVENT_MODELS else "unknown"
        metrics.rejected.labels(reason_kind(rejection.reason), label).inc()
    metrics.duplicates.inc(len(result.accepted) - len(fresh))
    if result.rejected:
        log.info(
            "rejected %d of %d events",
            len(result.rejected),
            len(raw_events),
            extra={
                "request_id": rid,
                "site_id": site.site_id,
                "reasons": sorted({reason_kind(r.reason) for r in result.rejected}),
            },
        )
    if log.isEnabledFor(logging.DEBUG):  # the ids are built only when someone reads them
        ids = [str(event.event_id) for event, _ in fresh]
        log.debug("accepted %d events", len(fresh), extra={"request_id": rid, "event_ids": ids})
    for reason, count in diverted.items():
        if count:
            metrics.diverted.labels(reason).inc(count)
    return {
        "accepted": len(result.accepted) + result.withheld,
        "duplicates": len(result.accepted) - len(fresh),
        "diverted": diverted,
        "rejected": [r.as_response() for r in result.rejected],
    }


def get_collector(request: Request) -> Collector:
    collector: Collector = request.app.state.collector
    return collector


def check_origin(credentials: Credentials, request: Request) -> None:
    """A browser on another site's origin cannot use this site's public key.

    Only the site's configured origins count: the ``Host`` header is the client's to choose,
    so "same origin as the request's host" would let any page pass by sending both. The
    demo shop served at ``/shop`` is in the demo site's origins (see ``demo_site``)."""
    origin = request.headers.get("origin")
    site = credentials.site
    if origin and not credentials.verified and origin not in site.allowed_origins:
        raise Refused(403, f"origin {origin} is not allowed for site {site.site_id}")
