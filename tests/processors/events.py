"""Building events for the profile tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.events import Envelope, parse_event

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday


def at(days: float = 0, hours: float = 0) -> datetime:
    return T0 + timedelta(days=days, hours=hours)


def make(kind: str, when: datetime = T0, **fields: Any) -> Envelope:
    base: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "type": kind,
        "site_id": "shop",
        "anonymous_id": "browser-1",
        "session_id": "s1",
        "occurred_at": when.isoformat(),
    }
    return parse_event(base | fields)


def order(when: datetime, total: str, **props: Any) -> Envelope:
    properties = {"order_id": str(uuid.uuid4()), "total": total, "currency": "EUR"} | props
    return make("order_placed", when, properties=properties)


def view(when: datetime, category: str, price: str, brand: str | None = None) -> Envelope:
    properties: dict[str, Any] = {"product_id": "p-" + category, "category": category}
    properties["price"] = price
    if brand:
        properties["brand"] = brand
    return make("product_view", when, properties=properties)
