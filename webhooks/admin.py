"""The admin API on the dispatcher's port: subscriptions, test sends, replays, metrics.

Without the admin token only ``/ping`` and a ``/healthz`` of totals answer: subscription ids
and endpoints are the customer's marketing stack, so the per-subscription backlog in
``/healthz`` and all of ``/metrics`` (labelled by subscription) need the token, which a
Prometheus scrape sends as ``Authorization: Bearer …``.
"""

from __future__ import annotations

import json
import re
import secrets
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field, ValidationError, field_validator

from schemas.webhooks import Subscription
from webhooks.deliveries import replayed
from webhooks.dispatcher import Dispatcher, utcnow
from webhooks.replay import chosen, read_dlq
from webhooks.safety import UnsafeUrl, checked_address
from webhooks.signing import new_secret
from webhooks.subscriptions import UnknownSubscription


class NewSubscription(BaseModel):
    id: str | None = None
    site_id: str
    url: str
    secret: str | None = None
    description: str = ""
    enabled: bool = True
    events: list[str]
    segments: list[str] = Field(default_factory=list)
    personal_traits: bool = False

    @field_validator("id", "site_id", "url", "secret", "description", "events", "segments")
    @classmethod
    def encodable(cls, value: str | list[str] | None) -> str | list[str] | None:
        """JSON may carry a lone surrogate (``"\\ud800"``), which no UTF-8 file can hold."""
        for text in [value] if isinstance(value, str) else value or []:
            try:
                text.encode()
            except UnicodeEncodeError as exc:
                raise ValueError(f"not valid Unicode text ({exc.reason})") from None
        return value


class AsciiJSONResponse(JSONResponse):
    """JSON with every non-ASCII character escaped, so a lone surrogate echoed back as the
    ``input`` of a validation error is ``\\ud800`` text, not a ``UnicodeEncodeError``."""

    def render(self, content: object) -> bytes:
        return json.dumps(content, ensure_ascii=True, separators=(",", ":")).encode()


async def refused_body(request: Request, exc: Exception) -> Response:
    """FastAPI's 422 for a body that fails validation, in :class:`AsciiJSONResponse`."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else [str(exc)]
    return AsciiJSONResponse({"detail": jsonable_encoder(errors)}, status_code=422)


def install_error_handlers(app: FastAPI) -> None:
    """What the dispatcher's app needs so every refused admin body is a 422."""
    app.add_exception_handler(RequestValidationError, refused_body)


class ReplayRequest(BaseModel):
    source: Literal["dlq", "range"] = "dlq"
    since: datetime | None = None
    until: datetime | None = None
    subscription_id: str | None = None


class ReplayResult(BaseModel):
    replayed: int
    delivery_ids: list[str]


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")[:40] or "hook"


def admin_router(dispatcher: Dispatcher) -> APIRouter:
    settings = dispatcher.settings
    store = dispatcher.store

    def is_admin(
        authorization: Annotated[str | None, Header()] = None,
        x_admin_token: Annotated[str | None, Header()] = None,
    ) -> bool:
        given = x_admin_token or (authorization or "").removeprefix("Bearer ").strip()
        return secrets.compare_digest(given.encode(), settings.admin_token.encode())

    admin_given = Depends(is_admin)  # a closure over the settings: not an Annotated alias

    def authorised(admin: bool = admin_given) -> None:
        if not admin:
            raise HTTPException(401, "admin token required")

    def found(subscription_id: str) -> Subscription:
        try:
            return store.get(subscription_id)
        except UnknownSubscription:
            raise HTTPException(404, f"no subscription {subscription_id!r}") from None

    router = APIRouter()
    admin = APIRouter(prefix="/v1", dependencies=[Depends(authorised)])

    @router.get("/ping")
    async def ping() -> str:
        return "ok"

    @router.get("/metrics", dependencies=[Depends(authorised)])
    async def metrics() -> Response:
        return Response(
            generate_latest(dispatcher.metrics.registry), media_type=CONTENT_TYPE_LATEST
        )

    @router.get("/healthz")
    async def healthz(admin: bool = admin_given) -> dict[str, object]:
        """Totals for a liveness probe; the backlog per subscription only with the token."""
        held = {k: e.held for k, e in dispatcher.endpoints.items()}
        health: dict[str, object] = {
            "status": "ok",
            "held": sum(held.values()),
            "profiles_cached": dispatcher.state.profile_count(),
            "counts": dict(dispatcher.counts),
        }
        if admin:
            health["held_by_subscription"] = held
        return health

    @admin.get("/subscriptions")
    async def list_subscriptions() -> list[dict[str, object]]:
        return [s.public() for s in store.all()]

    @admin.post("/subscriptions", status_code=201)
    async def add_subscription(body: NewSubscription) -> dict[str, object]:
        ident = body.id or f"{slug(body.site_id)}-{secrets.token_hex(4)}"
        if store.find(ident) is not None:
            raise HTTPException(409, f"subscription {ident!r} exists")
        try:
            subscription = Subscription(
                **body.model_dump(exclude={"id", "secret"}),
                id=ident,
                secret=body.secret or new_secret(),
            )
            await checked_address(subscription.url, dispatcher.sender.allowed)
        except (ValidationError, UnsafeUrl) as exc:
            raise HTTPException(422, str(exc)) from exc
        store.put(subscription)
        await dispatcher.audit("subscription.added", subscription)
        return subscription.model_dump(mode="json")

    @admin.delete("/subscriptions/{subscription_id}")
    async def remove_subscription(subscription_id: str) -> dict[str, object]:
        removed = store.remove(found(subscription_id).id)
        await dispatcher.audit("subscription.removed", removed)
        return removed.public()

    @admin.post("/subscriptions/{subscription_id}/enable")
    async def enable(subscription_id: str) -> dict[str, object]:
        found(subscription_id)
        dispatcher.state.success(subscription_id)
        enabled = store.set_enabled(subscription_id, True, None)
        await dispatcher.audit("subscription.enabled", enabled)
        return enabled.public()

    @admin.post("/subscriptions/{subscription_id}/disable")
    async def disable(subscription_id: str) -> dict[str, object]:
        found(subscription_id)
        disabled = store.set_enabled(subscription_id, False, "disabled by an admin")
        await dispatcher.audit("subscription.disabled", disabled)
        return disabled.public()

    @admin.post("/subscriptions/{subscription_id}/test")
    async def test(subscription_id: str) -> dict[str, object]:
        result = await dispatcher.test(found(subscription_id))
        return {
            "ok": result.ok,
            "status": result.status,
            "latency_ms": result.latency_ms,
            "error": result.error,
        }

    @admin.post("/replay")
    async def replay(body: ReplayRequest) -> ReplayResult:
        if body.subscription_id:
            found(body.subscription_id)
        now = utcnow()
        if body.source == "dlq":
            parked = chosen(await read_dlq(settings), body.since, body.until, body.subscription_id)
            parked = [d for d in parked if not dispatcher.state.was_delivered(d.delivery_id)]
        else:
            since = body.since or datetime(1970, 1, 1, tzinfo=UTC)
            parked = dispatcher.state.kept(since, body.until or now, body.subscription_id)
        again = [replayed(d, settings.webhooks.max_attempts, now) for d in parked]
        for delivery in again:
            await dispatcher.send(settings.topics.webhooks_retry, delivery)
        return ReplayResult(replayed=len(again), delivery_ids=[d.delivery_id for d in again])

    router.include_router(admin)
    return router
