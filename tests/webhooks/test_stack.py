"""The whole chain: an order posted to the collector becomes signed webhooks, the worker's
journey transition too, and every attempt (three for an endpoint that fails twice) is logged
in ClickHouse ``webhook_deliveries``."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from base.sqlclient import SqlClient
from footfall.stack import Stack
from tests.conftest import stack_settings_for
from tests.webhooks.conftest import wait_for
from tests.webhooks.receiver import Receiver

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


@pytest.fixture
def webhook_stack(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Stack]:
    monkeypatch.setenv("FOOTFALL_WEBHOOKS__ALLOW_NETWORKS", '["127.0.0.0/8"]')
    monkeypatch.setenv("FOOTFALL_WEBHOOKS__BACKOFF_BASE_S", "0.3")
    monkeypatch.setenv("FOOTFALL_WEBHOOKS__JITTER", "0")
    with Stack(stack_settings_for(tmp_path)) as running:
        running.start()
        yield running


def test_an_order_through_the_collector_is_delivered_and_logged(
    webhook_stack: Stack, receiver: Receiver
) -> None:
    settings = webhook_stack.settings
    admin = httpx.Client(
        base_url=f"{settings.webhooks_url}/v1",
        headers={"Authorization": f"Bearer {settings.admin_token}"},
        timeout=30,
    )
    wanted = {
        "ok": ["order.placed", "order.first"],
        "journey": ["journey.*"],
        "flaky": ["order.placed"],
    }
    for path, events in wanted.items():
        body = {
            "id": path,
            "site_id": "demo",
            "url": receiver.url(path),
            "events": events,
            "secret": receiver.secret,
        }
        assert admin.post("/subscriptions", json=body).status_code == 201

    order = {
        "event_id": str(uuid.uuid4()),
        "type": "order_placed",
        "anonymous_id": "browser-zoe",
        "customer_id": "zoe",
        "occurred_at": datetime.now(UTC).isoformat(),
        "properties": {"order_id": "o-zoe-1", "total": "25.00", "currency": "EUR"},
    }
    response = httpx.post(
        f"{settings.collector_url}/v1/batch",
        json={"write_key": "demo-secret-key", "batch": [order]},
        timeout=10,
    )
    assert response.json()["accepted"] == 1

    wait_for(lambda: len(receiver.hits("ok")) == 2, 60, "the order webhooks")
    wait_for(lambda: len(receiver.hits("journey")) >= 1, 60, "the journey webhook")
    wait_for(lambda: len(receiver.successes("flaky")) >= 1, 60, "the flaky endpoint")
    assert {hit.body["type"] for hit in receiver.hits("ok") if hit.body} == {
        "order.placed",
        "order.first",
    }
    assert all(hit.verified for hit in receiver.received)
    journey = receiver.hits("journey")[0].body
    assert journey is not None
    assert journey["type"] == "journey.customer"
    assert journey["profile"]["customer_id"] == "zoe"

    sql = SqlClient(settings.sink_url, settings.admin_token)
    try:
        wait_for(
            lambda: sql.scalar("SELECT count() FROM webhook_deliveries") == 6,
            60,
            "six attempts in webhook_deliveries",
        )
        rows = sql.rows(
            "SELECT subscription_id, event_kind, attempt, status, outcome "
            "FROM webhook_deliveries ORDER BY subscription_id, event_kind, attempt"
        )
    finally:
        sql.close()
    assert [
        (r["subscription_id"], r["event_kind"], int(r["attempt"]), int(r["status"]), r["outcome"])
        for r in rows
    ] == [
        ("flaky", "order.placed", 1, 500, "failed"),
        ("flaky", "order.placed", 2, 500, "failed"),
        ("flaky", "order.placed", 3, 200, "delivered"),
        ("journey", "journey.customer", 1, 204, "delivered"),
        ("ok", "order.first", 1, 204, "delivered"),
        ("ok", "order.placed", 1, 204, "delivered"),
    ]
    assert len(receiver.successes("flaky")) == 1
