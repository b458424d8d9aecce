"""From a message on an input topic to the webhook triggers it causes. Pure functions.

A trigger carries a ``source_id`` that is the same every time the same message is read again,
so the delivery id made from it (per subscription) is the same after a crash or a replay.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from schemas.webhooks import (
    CartLine,
    EventData,
    JourneyData,
    OrderData,
    ReviewData,
    SegmentData,
    Subscription,
)

DELIVERY_NAMESPACE = uuid.UUID("5d7c8f43-6a4e-4c52-9a8e-0f0f07fa11f0")


class BadInput(ValueError):
    """A message on an input topic that cannot be read; it is logged and skipped."""


@dataclass(frozen=True)
class Trigger:
    kind: str
    site_id: str
    profile_id: str | None
    source_id: str
    occurred_at: datetime
    data: EventData
    segment: str | None = None


def delivery_id(subscription_id: str, source_id: str) -> str:
    return "msg_" + uuid.uuid5(DELIVERY_NAMESPACE, f"{subscription_id}|{source_id}").hex


def wants(subscription: Subscription, trigger: Trigger) -> bool:
    """Whether ``subscription`` receives ``trigger``."""
    if not subscription.enabled or subscription.site_id not in (trigger.site_id, "*"):
        return False
    kinds = subscription.events
    journey_any = trigger.kind.startswith("journey.") and "journey.*" in kinds
    if trigger.kind not in kinds and not journey_any:
        return False
    if trigger.segment is not None and subscription.segments:
        return trigger.segment in subscription.segments
    return True


def when(value: Any) -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif value:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    else:
        raise BadInput("no time in message")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def journey_trigger(message: dict[str, Any]) -> Trigger:
    try:
        data = JourneyData(
            from_stage=str(message["from_stage"]),
            to_stage=str(message["to_stage"]),
            cause=str(message.get("cause", "")),
            event_id=message.get("event_id"),
            at=when(message["at"]),
        )
        site, profile = str(message["site_id"]), str(message["profile_id"])
    except (KeyError, ValueError) as exc:
        raise BadInput(f"not a stage transition: {exc}") from exc
    tag = data.event_id or data.at.isoformat()
    return Trigger(
        kind=f"journey.{data.to_stage}",
        site_id=site,
        profile_id=profile,
        source_id=f"journey:{site}:{profile}:{data.from_stage}>{data.to_stage}:{tag}",
        occurred_at=data.at,
        data=data,
    )


def segment_trigger(message: dict[str, Any]) -> Trigger:
    try:
        data = SegmentData(
            segment=str(message["segment"]),
            change=message["change"],
            cause=str(message.get("cause", "")),
            event_id=message.get("event_id"),
            at=when(message["at"]),
        )
        site, profile = str(message["site_id"]), str(message["profile_id"])
    except (KeyError, ValueError) as exc:
        raise BadInput(f"not a segment change: {exc}") from exc
    tag = data.event_id or data.at.isoformat()
    return Trigger(
        kind=f"segment.{data.change}",
        site_id=site,
        profile_id=profile,
        source_id=f"segment:{site}:{profile}:{data.segment}:{data.change}:{tag}",
        occurred_at=data.at,
        data=data,
        segment=data.segment,
    )


def line_items(raw: Any) -> list[CartLine]:
    return [CartLine.model_validate(item) for item in raw or []]


def order_triggers(event: dict[str, Any], profile_id: str, first_order: bool) -> list[Trigger]:
    props = event.get("properties") or {}
    try:
        data = OrderData(
            event_id=str(event["event_id"]),
            order_id=str(props["order_id"]),
            total=Decimal(str(props["total"])),
            currency=props.get("currency"),
            items=line_items(props.get("items")),
            coupon=props.get("coupon"),
            discount=Decimal(str(props.get("discount") or 0)),
            first_order=first_order,
            at=when(event.get("occurred_at")),
        )
    except (KeyError, ValueError, ArithmeticError) as exc:
        raise BadInput(f"not an order: {exc}") from exc
    site = str(event["site_id"])
    kinds = ["order.placed", "order.first"] if first_order else ["order.placed"]
    return [
        Trigger(kind, site, profile_id, f"{kind}:{site}:{data.event_id}", data.at, data)
        for kind in kinds
    ]


def review_trigger(event: dict[str, Any], profile_id: str, low_rating_max: int) -> list[Trigger]:
    props = event.get("properties") or {}
    try:
        data = ReviewData(
            event_id=str(event["event_id"]),
            product_id=str(props["product_id"]),
            rating=int(props["rating"]),
            title=props.get("title"),
            text=props.get("text"),
            at=when(event.get("occurred_at")),
        )
    except (KeyError, ValueError) as exc:
        raise BadInput(f"not a review: {exc}") from exc
    if data.rating > low_rating_max:
        return []
    site = str(event["site_id"])
    kind = "review.low_rating"
    return [Trigger(kind, site, profile_id, f"{kind}:{site}:{data.event_id}", data.at, data)]


def first_order(recorded_first: bool, snapshot: dict[str, Any] | None, at: datetime) -> bool:
    """Whether an order is the profile's first: the dispatcher's own record says so, and the
    latest profile snapshot (which may lag) does not know of an earlier first order."""
    if not recorded_first or not snapshot or not snapshot.get("first_order_at"):
        return recorded_first
    try:
        return not when(snapshot["first_order_at"]) < at
    except (BadInput, ValueError):
        return recorded_first


def profile_id_of(event: dict[str, Any], linked_customer: str | None) -> str:
    """The profile an event belongs to, as the stream worker's identity resolution decides."""
    customer = event.get("customer_id") or linked_customer
    return str(customer) if customer else f"anon-{event.get('anonymous_id', '')}"
