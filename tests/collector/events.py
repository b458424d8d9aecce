"""Valid events for the collector tests."""

from __future__ import annotations

import uuid
from typing import Any


def page_view(anonymous_id: str = "browser-1", **fields: Any) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "type": "page_view",
        "anonymous_id": anonymous_id,
        "occurred_at": "2026-01-01T12:00:00Z",
        "context": {"url": "https://a.example/"},
        "properties": {},
    } | fields


def order(anonymous_id: str = "browser-1") -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "type": "order_placed",
        "anonymous_id": anonymous_id,
        "occurred_at": "2026-01-01T12:00:00Z",
        "properties": {
            "order_id": "o-1",
            "items": [{"product_id": "p-1", "price": "19.90", "quantity": 2}],
            "total": "39.80",
            "currency": "EUR",
        },
    }
