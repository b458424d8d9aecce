"""The Segment-compatible API, driven by Segment's own Python SDK against uvicorn."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from segment.analytics.client import Client

from collector.segment import SEGMENT_NAMESPACE, to_footfall
from tests.collector.conftest import KafkaSpace, Uvicorn, collector_settings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


@pytest.fixture
def collector(broker: KafkaSpace, tmp_path: Path) -> Iterator[Uvicorn]:
    server = Uvicorn(collector_settings(broker), tmp_path / "collector.log")
    yield server
    server.stop()


def sdk(url: str, key: str, errors: list[Any], gzip: bool) -> Client:
    return Client(
        write_key=key,
        host=f"{url}/segment",
        gzip=gzip,
        max_retries=1,
        on_error=lambda error, _batch: errors.append(error),
    )


@pytest.mark.parametrize("gzip", [False, True])
def test_segment_sdk_events_land_as_footfall_events(
    broker: KafkaSpace, collector: Uvicorn, gzip: bool
) -> None:
    errors: list[Any] = []
    client = sdk(collector.url, "a-secret", errors, gzip)
    client.page(anonymous_id="anon-1", name="Home", properties={"url": "https://a.example/"})
    client.track(
        anonymous_id="anon-1",
        event="Product Viewed",
        properties={"product_id": "p-1", "name": "Mug", "price": 12.5, "currency": "EUR"},
    )
    client.track(
        anonymous_id="anon-1",
        event="Product Added",
        properties={"product_id": "p-1", "price": 12.5, "quantity": 2},
    )
    client.track(anonymous_id="anon-1", event="Products Searched", properties={"query": "mug"})
    client.track(
        user_id="c-9",
        anonymous_id="anon-1",
        event="Order Completed",
        message_id="order-o-1",
        properties={
            "order_id": "o-1",
            "total": 30.0,
            "shipping": 5.0,
            "currency": "EUR",
            "coupon": "SUMMER",
            "products": [{"product_id": "p-1", "name": "Mug", "price": 12.5, "quantity": 2}],
        },
    )
    client.identify(user_id="c-9", anonymous_id="anon-1", traits={"email": "c9@example.com"})
    client.alias(previous_id="anon-old", user_id="c-9")
    client.track(anonymous_id="anon-1", event="Newsletter Joined", properties={"list": "weekly"})
    client.flush()
    client.shutdown()
    assert errors == []
    stored = {r["event_id"]: r for r in broker.read("events")}
    kinds = sorted(r["type"] for r in stored.values())
    expected = ["page_view", "product_view", "cart_add", "search", "order_placed", "custom"]
    assert kinds == sorted([*expected, "identify", "identify"])
    order = stored[str(uuid.uuid5(SEGMENT_NAMESPACE, "order-o-1"))]
    assert order["site_id"] == "shop-a"
    assert order["verified"] is True
    assert order["customer_id"] == "c-9"
    assert Decimal(order["properties"]["total"]) == Decimal("30")
    assert order["properties"]["items"][0]["quantity"] == 2
    assert order["properties"]["coupon"] == "SUMMER"
    alias = next(r for r in stored.values() if r["anonymous_id"] == "anon-old")
    assert alias["customer_id"] == "c-9"
    custom = next(r for r in stored.values() if r["type"] == "custom")
    assert custom["properties"] == {"name": "Newsletter Joined", "data": {"list": "weekly"}}


def test_a_wrong_segment_write_key_is_refused(collector: Uvicorn) -> None:
    errors: list[Any] = []
    client = sdk(collector.url, "not-a-key", errors, gzip=False)
    client.track(anonymous_id="x", event="Product Viewed", properties={"product_id": "p"})
    client.flush()
    client.shutdown()
    assert len(errors) == 1
    assert "401" in str(errors[0]) or "unknown" in str(errors[0])


def test_message_ids_become_event_ids() -> None:
    same = str(uuid.uuid4())
    assert to_footfall({"type": "page", "messageId": same})["event_id"] == same
    derived = to_footfall({"type": "page", "messageId": "ajs-123"})["event_id"]
    assert derived == str(uuid.uuid5(SEGMENT_NAMESPACE, "ajs-123"))
    assert to_footfall({"type": "page", "messageId": "ajs-123"})["event_id"] == derived
