"""Segment spec messages as Footfall raw events. Pure.

Every call of the Segment spec (track, identify, page, screen, group, alias) becomes one
Footfall event, validated afterwards like any other. An SDK reports success on a 2xx, so a
message it legitimately sends must never end in the DLQ: a track call whose properties do
not fit the Footfall type it maps to (a ``Product Viewed`` without any product id, a review
without a rating) is stored as a ``custom`` event named after the Segment event, with its
properties, instead of being refused. What is mapped, field by field: ``docs/segment.md``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ValidationError

from collector.segment_fields import (
    add_money,
    amount,
    clip,
    currency,
    drop_none,
    first,
    flat_traits,
    ident,
    mapping,
    money,
    quantity,
    rating,
    text,
)
from schemas.events import (
    CartProperties,
    CheckoutProperties,
    ClickProperties,
    ExperimentProperties,
    FeedbackProperties,
    OrderProperties,
    ProductProperties,
    RefundProperties,
    ReviewProperties,
    SearchProperties,
)

SEGMENT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://footfall.dev/segment/messageId")
SHORT_PATHS = {
    "t": "track",
    "i": "identify",
    "p": "page",
    "s": "screen",
    "g": "group",
    "a": "alias",
}
MAX_TEXT = 256
MAX_URL = 2048
MAX_ITEMS = 500
MAX_CUSTOM_KEYS = 64
MAPPED_KEYS = frozenset(
    {
        "type",
        "event",
        "messageId",
        "anonymousId",
        "userId",
        "previousId",
        "groupId",
        "timestamp",
        "originalTimestamp",
        "sentAt",
        "context",
        "properties",
        "traits",
        "name",
        "category",
        "writeKey",
        "receivedAt",
    }
)
"""Message keys the mapping reads; any other top-level key is kept in the event's
``extra.segment`` (``integrations``, ``_metadata``, ``version``, ``channel``, …)."""

Props = dict[str, Any]


def event_id_of(message_id: Any) -> str:
    """``messageId`` as a UUID: itself if it is one, else a stable UUID5 derived from it."""
    if not isinstance(message_id, str) or not message_id:
        return str(uuid.uuid4())
    try:
        return str(uuid.UUID(message_id))
    except ValueError:
        return str(uuid.uuid5(SEGMENT_NAMESPACE, message_id))


# ---------------------------------------------------------------- e-commerce v2 properties


def product_id_of(props: Props) -> str | None:
    return ident(first(props, "product_id", "sku", "id"))


def product(props: Props) -> Props:
    return drop_none(
        {
            "product_id": product_id_of(props),
            "name": clip(props.get("name"), MAX_TEXT),
            "category": clip(props.get("category"), MAX_TEXT),
            "brand": clip(props.get("brand"), MAX_TEXT),
            "price": money(props.get("price")),
            "currency": currency(props.get("currency")),
        }
    )


def cart_line(props: Props) -> Props:
    return product(props) | drop_none(
        {"quantity": quantity(props.get("quantity")), "cart_id": ident(props.get("cart_id"))}
    )


def line_items(props: Props) -> list[Props]:
    """``products`` as line items: those without any id are left out, a missing price is 0
    (the line still counts in the order, its revenue is in the order's total)."""
    products = props.get("products")
    items = []
    for p in products if isinstance(products, list) else []:
        if isinstance(p, dict) and product_id_of(p) is not None:
            line = {k: v for k, v in product(p).items() if k != "currency"}
            count = drop_none({"quantity": quantity(p.get("quantity"))})
            items.append({"price": "0"} | line | count)
    return items[:MAX_ITEMS]


def items_value(items: list[Props]) -> str | None:
    if not items:
        return None
    return money(sum((Decimal(i["price"]) * i.get("quantity", 1) for i in items), Decimal(0)))


def order_total(props: Props, items: list[Props]) -> str:
    """Footfall's ``total`` is what the customer paid: Segment's ``total``; else ``revenue``
    plus shipping and tax (the spec's revenue leaves them out); else ``value``; else the
    products' sum less the discount plus shipping and tax; else 0."""
    shipping, tax = money(props.get("shipping")), money(props.get("tax"))
    discount = money(props.get("discount"))
    from_items = items_value(items)
    if from_items is not None and discount is not None:
        from_items = money(Decimal(from_items) - Decimal(discount)) or "0"
    return (
        money(props.get("total"))
        or add_money(money(props.get("revenue")), shipping, tax)
        or money(props.get("value"))
        or add_money(from_items, shipping, tax)
        or "0"
    )


def order(props: Props, message_id: str) -> Props:
    items = line_items(props)
    return drop_none(
        {
            "order_id": ident(first(props, "order_id", "checkout_id")) or message_id,
            "items": items,
            "subtotal": money(props.get("subtotal")),
            "discount": money(props.get("discount")),
            "shipping": money(props.get("shipping")),
            "tax": money(props.get("tax")),
            "total": order_total(props, items),
            "currency": currency(props.get("currency")),
            "coupon": clip(props.get("coupon"), MAX_TEXT),
            "payment_method": clip(props.get("payment_method"), MAX_TEXT),
        }
    )


def refund(props: Props, message_id: str) -> Props:
    items = line_items(props)
    refunded = first(props, "total", "value", "revenue", "amount")
    return drop_none(
        {
            "order_id": ident(props.get("order_id")) or message_id,
            "amount": amount(refunded) if refunded is not None else items_value(items) or "0",
            "currency": currency(props.get("currency")),
            "reason": clip(props.get("reason"), MAX_TEXT),
        }
    )


def checkout(props: Props, _message_id: str) -> Props:
    items = line_items(props)
    value = first(props, "value", "revenue", "total")
    return drop_none(
        {
            "cart_id": ident(props.get("cart_id")),
            "items": items,
            "value": money(value) if value is not None else items_value(items),
            "currency": currency(props.get("currency")),
        }
    )


def click(props: Props, _message_id: str) -> Props:
    return drop_none(
        {
            "element": "product",
            "product_id": product_id_of(props),
            "text": clip(first(props, "name", "product_id", "sku"), MAX_TEXT),
            "href": clip(props.get("url"), MAX_URL),
        }
    )


def review(props: Props, _message_id: str) -> Props:
    return drop_none(
        {
            "product_id": product_id_of(props),
            "rating": rating(first(props, "rating", "stars")),
            "title": clip(props.get("review_title"), MAX_TEXT),
            "text": clip(first(props, "review_body", "text"), 5000),
        }
    )


def search(props: Props, _message_id: str) -> Props:
    return drop_none({"query": clip(props.get("query"), MAX_TEXT)})


def experiment(props: Props, _message_id: str) -> Props:
    return drop_none(
        {
            "experiment": ident(first(props, "experiment_id", "experiment_name")),
            "variant": ident(first(props, "variation_id", "variation_name")),
        }
    )


def feedback(props: Props, _message_id: str) -> Props:
    score = first(props, "score", "rating")
    return drop_none(
        {
            "score": score if isinstance(score, int) and 0 <= score <= 10 else None,
            "text": clip(first(props, "text", "comment"), 5000),
            "topic": clip(props.get("topic"), MAX_TEXT),
        }
    )


Mapper = Callable[[Props, str], Props]
TRACK_EVENTS: dict[str, tuple[str, type[BaseModel], Mapper]] = {
    "Products Searched": ("search", SearchProperties, search),
    "Product Clicked": ("click", ClickProperties, click),
    "Product Viewed": ("product_view", ProductProperties, lambda p, _: product(p)),
    "Product Added": ("cart_add", CartProperties, lambda p, _: cart_line(p)),
    "Product Removed": ("cart_remove", CartProperties, lambda p, _: cart_line(p)),
    "Checkout Started": ("checkout_started", CheckoutProperties, checkout),
    "Order Completed": ("order_placed", OrderProperties, order),
    "Order Refunded": ("order_refunded", RefundProperties, refund),
    "Product Reviewed": ("review", ReviewProperties, review),
    "Experiment Viewed": ("experiment_exposure", ExperimentProperties, experiment),
    "Feedback Submitted": ("feedback", FeedbackProperties, feedback),
}
"""Segment event name → Footfall type and property mapping. Every other name (Product List
Viewed, Cart Viewed, Checkout Step Completed, Payment Info Entered, Order Updated, Order
Cancelled, Coupon Applied, Product Shared, …) is stored as a ``custom`` event."""
COUPON_EVENTS = frozenset({"Coupon Entered", "Coupon Applied", "Coupon Denied", "Coupon Removed"})


def properties_problem(model: type[BaseModel], props: Props) -> str | None:
    """Why ``props`` are not valid properties of the Footfall type (its model decides)."""
    try:
        model.model_validate(props)
    except ValidationError as exc:
        problems = (f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:3])
        return "; ".join(problems)[:400]
    return None


def custom(name: str, data: Props) -> Props:
    """A custom event: at most 64 keys at the top of its data, the rest kept under ``_more``."""
    if len(data) > MAX_CUSTOM_KEYS:
        keys = list(data)
        head = {k: data[k] for k in keys[: MAX_CUSTOM_KEYS - 1]}
        data = head | {"_more": {k: data[k] for k in keys[MAX_CUSTOM_KEYS - 1 :]}}
    return {"type": "custom", "properties": {"name": name[:128], "data": data}}


def track(name: Any, props: Props, message_id: str) -> tuple[Props, str | None]:
    """A track call's Footfall type and properties, and why it fell back to ``custom``."""
    if not isinstance(name, str):
        return {"type": "custom", "properties": {"name": text(name)}}, None  # refused later
    spec = TRACK_EVENTS.get(name)
    if spec is None:
        return custom(name, props), None
    footfall_type, model, mapper = spec
    mapped = mapper(props, message_id)
    problem = properties_problem(model, mapped)
    if problem is not None:
        return custom(name, props), problem
    return {"type": footfall_type, "properties": mapped}, None


# ---------------------------------------------------------------- the other calls


def identify(message: Props) -> Props:
    """Traits from ``traits`` and ``context.traits`` (RudderStack puts them there)."""
    ctx = mapping(message.get("context"))
    traits = flat_traits(ctx.get("traits"), message.get("traits"))
    if ident(message.get("userId")) is None:
        return custom("Identify", {"traits": traits})  # Footfall's identify needs a customer
    return {"type": "identify", "properties": {"traits": traits}}


def group(message: Props) -> Props:
    """The group (company, account) as ``company.*`` traits of the user's profile, the way
    Segment's own identify spec nests a company; without a user, a custom ``Group`` event."""
    company = mapping(message.get("traits")) | drop_none({"id": text(message.get("groupId"))})
    traits = flat_traits({"company": company})
    if ident(message.get("userId")) is None:
        return custom("Group", {"group_id": text(message.get("groupId")), "traits": traits})
    return {"type": "identify", "properties": {"traits": traits}}


def page(message: Props) -> Props:
    props = mapping(message.get("properties"))
    return {
        "type": "page_view",
        "properties": drop_none(
            {
                "name": clip(first(message, "name") or props.get("name"), MAX_TEXT),
                "category": clip(first(message, "category") or props.get("category"), MAX_TEXT),
            }
        ),
    }


def alias(message: Props) -> Props:
    if ident(message.get("userId")) is None:
        return custom("Alias", {"previous_id": text(message.get("previousId"))})
    return {
        "type": "identify",
        "anonymous_id": text(message.get("previousId")) or text(message.get("anonymousId")),
        "properties": {},
    }


# ---------------------------------------------------------------- the envelope


def screen_size(value: Any) -> str | None:
    size = mapping(value)
    width, height = size.get("width"), size.get("height")
    if isinstance(width, int | float) and isinstance(height, int | float):
        return f"{int(width)}x{int(height)}"[:32]
    return None


def context_of(message: Props) -> Props:
    ctx = mapping(message.get("context"))
    page_ctx = mapping(ctx.get("page"))
    campaign = mapping(ctx.get("campaign"))
    props = mapping(message.get("properties")) if message.get("type") == "page" else {}
    utm = {k: clip(campaign.get(k), MAX_TEXT) for k in ("source", "medium", "term", "content")}
    utm["campaign"] = clip(campaign.get("name"), MAX_TEXT)
    return drop_none(
        {
            "url": clip(first(page_ctx, "url") or props.get("url"), MAX_URL),
            "path": clip(first(page_ctx, "path") or props.get("path"), MAX_URL),
            "referrer": clip(first(page_ctx, "referrer") or props.get("referrer"), MAX_URL),
            "title": clip(first(page_ctx, "title") or props.get("title"), MAX_TEXT),
            "locale": clip(ctx.get("locale"), 35),
            "timezone": clip(ctx.get("timezone"), 64),
            "screen": screen_size(ctx.get("screen")),
            "utm": drop_none(utm) or None,
        }
    )


def to_footfall(message: Any) -> Any:
    """One Segment message as a Footfall raw event (validated later like any other).

    The client's clock is ``originalTimestamp`` (what Segment keeps as the device's time)
    or else ``timestamp``, corrected for skew with ``sentAt`` like a native event's
    ``occurred_at``; a message without either is dated at receipt."""
    if not isinstance(message, dict):
        return message
    kind = message.get("type")
    props = mapping(message.get("properties"))
    user_id = text(message.get("userId"))
    event_id = event_id_of(message.get("messageId"))
    event: Props = {
        "event_id": event_id,
        "anonymous_id": text(message.get("anonymousId")) or user_id,
        "customer_id": user_id,
        "occurred_at": first(message, "originalTimestamp", "timestamp"),
        "sent_at": message.get("sentAt"),
        "context": context_of(message),
    }
    segment: Props = {"call": kind if isinstance(kind, str) else None}
    if kind == "track":
        name = message.get("event")
        mapped, problem = track(name, props, str(message.get("messageId") or event_id))
        event |= mapped
        segment |= {"event": clip(name, MAX_TEXT), "unmapped": problem}
        if isinstance(name, str) and name in COUPON_EVENTS:
            coupon = clip(first(props, "coupon_name", "coupon_id", "coupon"), MAX_TEXT)
            event["context"] = event["context"] | drop_none({"coupon": coupon})
    elif kind in ("page", "screen"):
        event |= page(message)
    elif kind == "identify":
        event |= identify(message)
    elif kind == "group":
        event |= group(message)
    elif kind == "alias":
        event |= alias(message)
    else:
        event["type"] = f"segment:{kind}" if isinstance(kind, str) else kind
    segment |= {k: v for k, v in message.items() if k not in MAPPED_KEYS}
    return drop_none(event) | {"segment": drop_none(segment)}
