"""Segment tracking API compatibility, mounted under ``/segment``.

A Segment or RudderStack SDK works by changing only its host to
``http(s)://collector/segment``: every call on its long path (``/v1/track``, ``/v1/batch``,
``/v1/import`` …) and on the short one analytics.js uses (``/v1/t``, ``/v1/p``, ``/v1/i``,
``/v1/s``, ``/v1/g``, ``/v1/a``, ``/v1/b``); the write key as the basic-auth user or as
``writeKey`` in the body; ``GET /v1/projects/{writeKey}/settings``, the settings
analytics.js loads from its CDN. ``@segment/analytics-node`` resolves its path against the
host's root (``new URL('/v1/batch', host)``), so a request to the native ``/v1/batch`` that
comes the Segment way (basic auth, or ``writeKey`` without ``write_key`` in the body) is
answered here too. Errors are Segment's shape, ``{"code", "message"}``, which the SDKs read.
The mapping of messages onto Footfall events is :mod:`collector.segment_mapping`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from collector.batch import BodyError, client_sent_at
from collector.ingest import Refused, check_origin, get_collector, ingest, read_request_body
from collector.segment_mapping import SEGMENT_NAMESPACE, SHORT_PATHS, to_footfall
from collector.settings import CollectorSettings

__all__ = ["SEGMENT_NAMESPACE", "SEGMENT_PATHS", "segment_router", "to_footfall"]

BATCH_PATHS = ("/v1/batch", "/v1/import", "/v1/b")
CALL_PATHS = {f"/v1/{call}": call for call in SHORT_PATHS.values()} | {
    f"/v1/{short}": call for short, call in SHORT_PATHS.items()
}
SEGMENT_PATHS = frozenset(f"/segment{path}" for path in (*BATCH_PATHS, *CALL_PATHS))
ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    408: "request_timeout",
    413: "payload_too_large",
    429: "rate_limited",
    503: "service_unavailable",
}


@dataclass(frozen=True)
class SegmentRequest:
    """The messages of one request, the write key it presented and its ``sentAt``."""

    messages: list[Any]
    write_key: object
    sent_at: datetime | None


def segment_request(data: Any, call: str | None, auth_user: str | None) -> SegmentRequest:
    """A parsed body as Segment messages: a batch (``call`` None) or one message of
    ``call`` (the path names the call, as on Segment's API). Pure; BodyError when the body
    is no Segment request."""
    if not isinstance(data, dict):
        raise BodyError("body must be a JSON object: one Segment message or {'batch': [...]}")
    if call is None:
        batch = data.get("batch")
        if not isinstance(batch, list):
            raise BodyError("'batch' must be a list of Segment messages")
        messages = batch
    else:
        messages = [data | {"type": call}]
    key = auth_user or data.get("writeKey")
    if not key and messages and isinstance(messages[0], dict):
        key = messages[0].get("writeKey")
    return SegmentRequest(messages, key, client_sent_at(data.get("sentAt")))


def basic_auth_user(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if not auth.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(auth[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded.split(":", 1)[0] or None


def segment_shaped(request: Request, data: dict[str, Any]) -> bool:
    """A request to the native ``/v1/batch`` sent by a Segment SDK: the native API takes its
    key as ``write_key``, ``X-Footfall-Key`` or a bearer token, never by basic auth or as
    ``writeKey``, so either of those tells a Segment request apart."""
    basic = request.headers.get("authorization", "").lower().startswith("basic ")
    return basic or ("writeKey" in data and "write_key" not in data)


def answered_as_segment(request: Request) -> bool:
    return bool(getattr(request.state, "segment", False))


def segment_error(status: int, message: str, headers: dict[str, str] | None) -> JSONResponse:
    """Segment's error body (``code``, ``message``; rudder-sdk-python reads both) with
    Footfall's ``error`` kept. The status says whether to retry: 429 and 5xx only."""
    code = ERROR_CODES.get(status, "error")
    body = {"success": False, "code": code, "message": message, "error": message}
    return JSONResponse(body, status_code=status, headers=headers)


def cdn_settings(write_key: str, api_host: str, protocol: str) -> dict[str, Any]:
    """What analytics.js reads from ``/v1/projects/{writeKey}/settings``: only the
    Segment.io destination (so it loads no other destination's code), pointed at this
    collector, and remote metrics off (they would go to Segment)."""
    return {
        "integrations": {
            "Segment.io": {
                "apiKey": write_key,
                "apiHost": api_host,
                "protocol": protocol,
                "unbundledIntegrations": [],
                "addBundledMetadata": True,
                "maybeBundledConfigIds": {},
            }
        },
        "edgeFunction": {},
        "analyticsNextEnabled": True,
        "middlewareSettings": {},
        "enabledMiddleware": {},
        "metrics": {"sampleRate": 0},
        "legacyVideoPluginsEnabled": False,
        "remotePlugins": [],
    }


async def receive_segment(request: Request, parsed: SegmentRequest) -> JSONResponse:
    """Authenticate, map and ingest a Segment request (the per-IP limit already counted)."""
    request.state.segment = True
    collector = get_collector(request)
    credentials = collector.authenticate(parsed.write_key)
    check_origin(credentials, request)
    messages = [
        {k: v for k, v in m.items() if k != "writeKey"} if isinstance(m, dict) else m
        for m in parsed.messages
    ]
    raw_events = [to_footfall(m) for m in messages]
    outcome = await ingest(collector, request, credentials, raw_events, parsed.sent_at)
    return JSONResponse({"success": True} | outcome)


def parsed_request(request: Request, data: Any, call: str | None) -> SegmentRequest:
    try:
        return segment_request(data, call, basic_auth_user(request))
    except BodyError as exc:
        raise Refused(400, str(exc)) from None


async def receive_segment_batch(request: Request, data: dict[str, Any]) -> JSONResponse:
    """A Segment batch that came to the native ``/v1/batch`` (see :func:`segment_shaped`),
    its body already read and the per-IP limit counted."""
    request.state.segment = True
    return await receive_segment(request, parsed_request(request, data, None))


def segment_router(settings: CollectorSettings) -> APIRouter:
    router = APIRouter(tags=["segment"])

    async def read(request: Request, call: str | None) -> JSONResponse:
        request.state.segment = True
        get_collector(request).admit(request)
        body = await read_request_body(request, settings)
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise Refused(400, f"body is not valid JSON: {exc}") from None
        return await receive_segment(request, parsed_request(request, data, call))

    def endpoint(call: str | None) -> Callable[[Request], Any]:
        async def post(request: Request) -> JSONResponse:
            return await read(request, call)

        what = "a batch of messages" if call is None else f"one {call} message"
        post.__doc__ = f"Segment tracking API: {what}."
        return post

    for path in BATCH_PATHS:
        router.add_api_route(path, endpoint(None), methods=["POST"], name=f"segment{path}")
    for path, call in CALL_PATHS.items():
        router.add_api_route(path, endpoint(call), methods=["POST"], name=f"segment{path}")

    @router.get("/v1/projects/{write_key}/settings")
    async def project_settings(request: Request, write_key: str) -> JSONResponse:
        """The settings analytics.js (``@segment/analytics-next``) loads from its CDN: point
        the snippet's ``cdnURL`` at ``…/segment`` and events come here."""
        request.state.segment = True
        collector = get_collector(request)
        collector.admit(request)
        credentials = collector.authenticate(write_key)
        if credentials.verified:
            raise Refused(403, "this is a secret key: a browser must use the site's write key")
        api_host = f"{request.url.netloc}/segment/v1"
        body = cdn_settings(write_key, api_host, request.url.scheme)
        return JSONResponse(body, headers={"Cache-Control": "public, max-age=300"})

    return router
