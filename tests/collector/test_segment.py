"""The Segment-compatible API, driven by Segment's own Python SDK against uvicorn."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from segment.analytics.client import Client

from collector.app import create_app
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


@pytest.fixture
def no_kafka() -> Iterator[TestClient]:
    """The app in-process with no broker to reach: every produce answers 503."""
    settings = collector_settings(KafkaSpace("127.0.0.1:1"))
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


def test_analytics_js_reads_its_settings_from_the_collector(no_kafka: TestClient) -> None:
    answer = no_kafka.get("/segment/v1/projects/a-write/settings")
    assert answer.status_code == 200
    segment_io = answer.json()["integrations"]["Segment.io"]
    assert segment_io == segment_io | {
        "apiKey": "a-write",
        "apiHost": "testserver/segment/v1",
        "protocol": "http",
    }
    assert list(answer.json()["integrations"]) == ["Segment.io"]  # no other destination
    unknown = no_kafka.get("/segment/v1/projects/nope/settings")
    assert (unknown.status_code, unknown.json()["code"]) == (401, "unauthorized")
    secret = no_kafka.get("/segment/v1/projects/a-secret/settings")
    assert secret.status_code == 403


def test_the_preflight_allows_the_headers_the_sdks_send(no_kafka: TestClient) -> None:
    """analytics.js retries with X-Retry-Count and basic auth, RudderStack's sends
    AnonymousId: a preflight refusing one of them drops the browser's events."""
    for path in ("/segment/v1/t", "/segment/v1/b", "/v1/batch"):
        answer = no_kafka.options(
            path,
            headers={
                "Origin": "https://a.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type,x-retry-count",
            },
        )
        assert answer.status_code == 204
        allowed = {
            h.strip().lower() for h in answer.headers["access-control-allow-headers"].split(",")
        }
        assert {"authorization", "content-type", "x-retry-count", "anonymousid"} <= allowed


def test_errors_have_segment_codes_and_only_transient_ones_are_retryable(
    no_kafka: TestClient,
) -> None:
    """rudder-sdk-python reads ``code`` and ``message``; the SDKs retry 429 and 5xx only."""
    message = {"type": "track", "event": "Product Viewed", "anonymousId": "a"}
    wrong_key = no_kafka.post("/segment/v1/t", json=message, headers=basic("nope"))
    assert wrong_key.status_code == 401
    assert wrong_key.json() | {"message": "?"} == {
        "success": False,
        "code": "unauthorized",
        "message": "?",
        "error": wrong_key.json()["message"],
    }
    bad_json = no_kafka.post("/segment/v1/batch", content=b"{", headers=basic("a-write"))
    assert (bad_json.status_code, bad_json.json()["code"]) == (400, "bad_request")
    down = no_kafka.post("/segment/v1/t", json=message | {"writeKey": "a-write"})
    assert (down.status_code, down.json()["code"]) == (503, "service_unavailable")
    assert down.headers["retry-after"] == "2"
    native = no_kafka.post("/v1/batch", json={"write_key": "nope", "batch": []})
    assert native.json() == {"error": "unknown or missing write key"}  # native shape kept
