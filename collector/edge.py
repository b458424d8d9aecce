"""ASGI middleware at the edge: CORS answered per site, request metrics and in-flight gauge,
and the request id (``X-Request-ID``, the client's or a new one) that follows the request's
events through Kafka (header ``footfall-request-id``) into the logs of every stage.

Plain ASGI (no per-request ``Request``/``Response`` wrapping) because it runs on every call.
"""

from __future__ import annotations

import re
import uuid

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from collector.metrics import CollectorMetrics

ALLOW_HEADERS = (
    "Content-Type, Content-Encoding, Authorization, X-Footfall-Key, X-Retry-Count, AnonymousId, "
    "X-Request-ID"
)


def cors_preflight(origin: str, allowed: bool) -> Response:
    if not allowed:
        return Response(status_code=403)
    return Response(
        status_code=204,
        headers={
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Methods": "POST, GET, OPTIONS",
            "Access-Control-Allow-Headers": ALLOW_HEADERS,
            "Access-Control-Max-Age": "86400",
            "Vary": "Origin",
        },
    )


REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def request_id(given: str | None) -> str:
    """The client's ``X-Request-ID`` when it is a plain token, else a new one."""
    return given if given is not None and REQUEST_ID.fullmatch(given) else uuid.uuid4().hex


class EdgeMiddleware:
    """Any site's configured origin gets CORS headers (the demo shop's origin is the demo
    site's; a ``Host`` header chooses nothing); which site a key may be used from is checked
    per request by the endpoints."""

    def __init__(
        self,
        app: ASGIApp,
        origins: frozenset[str],
        metrics: CollectorMetrics,
        measured_paths: frozenset[str],
    ) -> None:
        self.app = app
        self.origins = origins
        self.metrics = metrics
        self.measured_paths = measured_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        rid = request_id(headers.get("x-request-id"))
        scope.setdefault("state", {})["request_id"] = rid
        origin = headers.get("origin")
        known = origin is not None and origin in self.origins
        if scope["method"] == "OPTIONS" and origin:
            await cors_preflight(origin, known)(scope, receive, send)
            return
        status = 500

        async def send_with_cors(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)["X-Request-ID"] = rid
                if origin and known:
                    extra = MutableHeaders(scope=message)
                    extra["Access-Control-Allow-Origin"] = origin
                    extra["Access-Control-Expose-Headers"] = "Retry-After, X-Request-ID"
                    extra["Vary"] = "Origin"
            await send(message)

        path = scope["path"]
        endpoint = path if path in self.measured_paths else "other"
        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send_with_cors)
        finally:
            self.metrics.in_flight.dec()
            self.metrics.requests.labels(endpoint, str(status)).inc()
