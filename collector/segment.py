"""Segment tracking API compatibility, mounted under ``/segment``.

A Segment or RudderStack SDK configured with host ``http://collector:PORT/segment`` works
unchanged: the write key is the HTTP basic-auth user (or ``writeKey`` in the body), and the
Segment e-commerce spec events are mapped onto Footfall's events. ``messageId`` becomes
``event_id`` (a UUID5 of it when it is not a UUID). Anything unmapped becomes a ``custom``
event named after the Segment event. The mapping functions are pure.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from collector.batch import BodyError, client_sent_at, read_body
from collector.ingest import Refused, ingest, read_request_body
from collector.settings import CollectorSettings

SEGMENT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://footfall.dev/segment/messageId")
TRACK_TYPES = {
    "Product Viewed": "product_view",
    "Product Clicked": "click",
    "Product Added": "cart_add",
    "Product Removed": "cart_remove",
    "Checkout Started": "checkout_started",
    "Order Completed": "order_placed",
    "Order Refunded": "order_refunded",
    "Products Searched": "search",
    "Product Reviewed": "review",
    "Experiment Viewed": "experiment_exposure",
    "Feedback Submitted": "feedback",
}
ENVELOPE_KEYS = frozenset(
    {
        "type",
        "event",
        "messageId",
        "anonymousId",
        "userId",
        "previousId",
        "timestamp",
        "originalTimestamp",
        "sentAt",
        "context",
        "properties",
        "traits",
        "name",
        "category",
        "integrations",
        "writeKey",
        "receivedAt",
        "version",
        "channel",
    }
)


def event_id_of(message_id: Any) -> str:
    """``messageId`` as a UUID: itself if it is one, else a stable UUID5 derived from it."""
    if not isinstance(message_id, str) or not message_id:
        return str(uuid.uuid4())
    try:
        return str(uuid.UUID(message_id))
    except ValueError:
        return str(uuid.uuid5(SEGMENT_NAMESPACE, message_id))


def mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def first(props: dict[str, Any], *names: str) -> Any:
    for name in names:
        if props.get(name) is not None:
            return props[name]
    return None


def text(value: Any) -> str | None:
    """A scalar as text; None for a list or an object (their repr is no id, and a deep one
    would exhaust Python's recursion limit)."""
    return None if value is None or isinstance(value, dict | list) else str(value)


def drop_none(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}


def product(props: dict[str, Any]) -> dict[str, Any]:
    return drop_none(
        {
            "product_id": text(first(props, "product_id", "sku", "id")),
            "name": props.get("name"),
            "category": props.get("category"),
            "brand": props.get("brand"),
            "price": props.get("price"),
            "currency": props.get("currency"),
        }
    )


def line_items(props: dict[str, Any]) -> list[dict[str, Any]]:
    products = props.get("products")
    if not isinstance(products, list):
        return []
    return [
        product(p) | drop_none({"quantity": p.get("quantity")})
        for p in products
        if isinstance(p, dict)
    ]


def order(props: dict[str, Any]) -> dict[str, Any]:
    return drop_none(
        {
            "order_id": text(first(props, "order_id", "checkout_id")),
            "items": [{k: v for k, v in i.items() if k != "currency"} for i in line_items(props)],
            "subtotal": props.get("subtotal"),
            "discount": props.get("discount"),
            "shipping": props.get("shipping"),
            "tax": props.get("tax"),
            "total": first(props, "total", "revenue", "value"),
            "currency": props.get("currency"),
            "coupon": props.get("coupon"),
            "payment_method": props.get("payment_method"),
        }
    )


PROPERTY_MAPPERS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "product_view": product,
    "click": lambda p: drop_none({"element": "product", "text": text(p.get("name"))}),
    "cart_add": lambda p: (
        product(p) | drop_none({"quantity": p.get("quantity"), "cart_id": text(p.get("cart_id"))})
    ),
    "cart_remove": lambda p: (
        product(p) | drop_none({"quantity": p.get("quantity"), "cart_id": text(p.get("cart_id"))})
    ),
    "checkout_started": lambda p: drop_none(
        {
            "items": [{k: v for k, v in i.items() if k != "currency"} for i in line_items(p)],
            "value": first(p, "value", "revenue", "total"),
            "currency": p.get("currency"),
        }
    ),
    "order_placed": order,
    "order_refunded": lambda p: drop_none(
        {
            "order_id": text(p.get("order_id")),
            "amount": first(p, "total", "value", "amount"),
            "currency": p.get("currency"),
            "reason": p.get("reason"),
        }
    ),
    "search": lambda p: {"query": p.get("query")},
    "review": lambda p: drop_none(
        {
            "product_id": text(p.get("product_id")),
            "rating": p.get("rating"),
            "text": p.get("review_body"),
        }
    ),
    "experiment_exposure": lambda p: {
        "experiment": text(first(p, "experiment_id", "experiment_name")),
        "variant": text(first(p, "variation_id", "variation_name")),
    },
    "feedback": lambda p: drop_none(
        {"score": p.get("score"), "text": p.get("text"), "topic": p.get("topic")}
    ),
}


def context_of(message: dict[str, Any]) -> dict[str, Any]:
    ctx = mapping(message.get("context"))
    page = mapping(ctx.get("page"))
    campaign = mapping(ctx.get("campaign"))
    props = mapping(message.get("properties"))
    utm = drop_none({k: campaign.get(k) for k in ("source", "medium", "term", "content")})
    if campaign.get("name") is not None:
        utm["campaign"] = campaign["name"]
    return drop_none(
        {
            "url": first(page, "url") or props.get("url"),
            "path": first(page, "path") or props.get("path"),
            "referrer": first(page, "referrer") or props.get("referrer"),
            "title": first(page, "title") or props.get("title"),
            "locale": ctx.get("locale"),
            "timezone": ctx.get("timezone"),
            "utm": utm or None,
        }
    )


def to_footfall(message: Any) -> Any:
    """One Segment message as a Footfall raw event (validated later like any other)."""
    if not isinstance(message, dict):
        return message
    kind = message.get("type")
    props = mapping(message.get("properties"))
    user_id = text(message.get("userId"))
    event: dict[str, Any] = {
        "event_id": event_id_of(message.get("messageId")),
        "anonymous_id": text(message.get("anonymousId")) or user_id,
        "customer_id": user_id,
        "occurred_at": message.get("timestamp") or message.get("originalTimestamp"),
        "sent_at": message.get("sentAt"),
        "context": context_of(message),
    }
    if kind == "track":
        name = message.get("event")
        footfall_type = TRACK_TYPES.get(name) if isinstance(name, str) else None
        if footfall_type is None:
            event |= {"type": "custom", "properties": {"name": text(name), "data": props}}
        else:
            event |= {"type": footfall_type, "properties": PROPERTY_MAPPERS[footfall_type](props)}
    elif kind in ("page", "screen"):
        event |= {"type": "page_view", "properties": drop_none({"category": props.get("category")})}
    elif kind == "identify":
        traits = mapping(message.get("traits"))
        flat = {k: v for k, v in traits.items() if isinstance(v, str | int | float | bool)}
        event |= {"type": "identify", "properties": {"traits": flat}}
    elif kind == "alias":
        event |= {
            "type": "identify",
            "anonymous_id": text(message.get("previousId")) or event["anonymous_id"],
            "properties": {},
        }
    else:
        event["type"] = f"segment:{kind}" if isinstance(kind, str) else kind
    extra = {k: v for k, v in message.items() if k not in ENVELOPE_KEYS}
    return drop_none(event) | extra


def basic_auth_user(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if not auth.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(auth[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded.split(":", 1)[0]


def segment_router(settings: CollectorSettings) -> APIRouter:
    from collector.app import check_origin, get_collector

    router = APIRouter(tags=["segment"])

    async def receive(request: Request, single: str | None) -> JSONResponse:
        collector = get_collector(request)
        collector.admit(request)
        try:
            data = read_body(await read_request_body(request, settings))
        except BodyError as exc:
            raise Refused(400, str(exc)) from None
        credentials = collector.authenticate(basic_auth_user(request) or data.get("writeKey"))
        check_origin(credentials, request)
        messages = data["batch"]
        if single is not None:
            messages = [
                {k: v for k, v in m.items() if k != "writeKey"} | {"type": single}
                if isinstance(m, dict)
                else m
                for m in messages
            ]
        raw_events = [to_footfall(m) for m in messages]
        sent_at = client_sent_at(data.get("sentAt"))
        outcome = await ingest(collector, request, credentials, raw_events, sent_at)
        return JSONResponse({"success": True} | outcome)

    @router.post("/v1/batch")
    async def batch(request: Request) -> JSONResponse:
        """Segment ``/v1/batch``: ``{"batch": [messages], "sentAt"}``."""
        return await receive(request, None)

    def single_call(kind: str) -> Callable[[Request], Any]:
        async def call(request: Request) -> JSONResponse:
            return await receive(request, kind)

        call.__doc__ = f"Segment ``/v1/{kind}``: one {kind} message."
        return call

    for kind in ("track", "identify", "page", "screen", "alias"):
        router.add_api_route(
            f"/v1/{kind}", single_call(kind), methods=["POST"], name=f"segment_{kind}"
        )
    return router
