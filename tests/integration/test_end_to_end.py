"""The whole chain for real: HTTP → collector → broker → worker → ClickHouse → SQL."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from base.sqlclient import SqlClient
from footfall.demo.report import wait_until_queryable
from footfall.demo.sender import send_all
from footfall.stack import Stack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

KINDS = ["page_view", "product_view", "click", "cart_add", "cart_remove"]


def synthetic_events(customers: int, total: int, seed: int = 1) -> list[dict[str, Any]]:
    """``total`` events for ``customers`` known customers, orders included."""
    rng = random.Random(seed)
    start = datetime(2026, 10, 1, tzinfo=UTC)
    events = []
    for n in range(total):
        customer = f"c{rng.randrange(customers):03d}"
        kind = rng.choice([*KINDS, "order_placed"])
        event: dict[str, Any] = {
            "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "type": kind,
            "anonymous_id": f"browser-{customer}",
            "customer_id": customer,
            "session_id": f"s-{customer}-{n // 100}",
            "occurred_at": (start + timedelta(minutes=n)).isoformat(),
        }
        if kind in ("product_view", "cart_add", "cart_remove"):
            event["properties"] = {"product_id": f"p{rng.randrange(20)}", "price": "9.90"}
        if kind == "order_placed":
            total_price = Decimal(rng.randrange(100, 50_000)) / 100
            event["properties"] = {
                "order_id": f"o{n}",
                "total": str(total_price),
                "currency": "EUR",
            }
        events.append(event)
    return events


def test_every_event_lands_once_and_profiles_match(stack: Stack, sql: SqlClient) -> None:
    events = synthetic_events(customers=50, total=1000)
    report = asyncio.run(
        send_all(stack.settings.collector_url, [("demo-secret-key", events)], batch_size=40)
    )
    assert report.accepted == 1000
    assert report.rejected == []
    wait_until_queryable(sql, 1000, timeout=120)

    stored = {
        row["event_id"] for row in sql.rows("SELECT toString(event_id) AS event_id FROM events")
    }
    assert stored == {e["event_id"] for e in events}
    assert sql.scalar("SELECT count() FROM events") == 1000

    expected: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"events": 0, "orders": 0, "revenue": Decimal(0), "counts": Counter()}
    )
    for event in events:
        truth = expected[event["customer_id"]]
        truth["events"] += 1
        truth["counts"][event["type"]] += 1
        if event["type"] == "order_placed":
            truth["orders"] += 1
            truth["revenue"] += Decimal(event["properties"]["total"])
    profiles = {
        row["profile_id"]: row
        for row in sql.rows(
            "SELECT profile_id, event_count, orders, toString(revenue) AS revenue, "
            "page_views, product_views, cart_adds FROM profiles FINAL"
        )
    }
    assert set(profiles) == set(expected)
    for customer, truth in expected.items():
        profile = profiles[customer]
        assert int(profile["event_count"]) == truth["events"], customer
        assert int(profile["orders"]) == truth["orders"], customer
        assert Decimal(profile["revenue"]) == truth["revenue"], customer
        assert int(profile["page_views"]) == truth["counts"]["page_view"], customer
        assert int(profile["cart_adds"]) == truth["counts"]["cart_add"], customer


def test_a_malformed_event_is_rejected_alone(stack: Stack, sql: SqlClient) -> None:
    good = synthetic_events(customers=2, total=3, seed=9)
    bad = {
        "event_id": str(uuid.uuid4()),
        "type": "order_placed",
        "anonymous_id": "x",
        "properties": {"order_id": "o1", "total": "-5", "currency": "euro"},
    }
    body = {"write_key": "demo-secret-key", "batch": [good[0], bad, good[1], good[2]]}
    response = httpx.post(f"{stack.settings.collector_url}/v1/batch", json=body, timeout=10)
    assert response.status_code == 200
    result = response.json()
    assert result["accepted"] == 3
    assert [r["index"] for r in result["rejected"]] == [1]
    reason = result["rejected"][0]["reason"]
    assert "properties.total" in reason
    assert "properties.currency" in reason
    wait_until_queryable(sql, 3, timeout=60)
    assert sql.scalar("SELECT count() FROM events") == 3
    dlq = sql.rows("SELECT event_id, reason FROM dlq_events")
    assert [row["event_id"] for row in dlq] == [bad["event_id"]]


def test_bots_and_placeholder_ids_are_stored_apart_and_build_no_profile(
    stack: Stack, sql: SqlClient
) -> None:
    url = f"{stack.settings.collector_url}/v1/batch"
    good, placeholder, crawled = synthetic_events(customers=3, total=3, seed=5)
    placeholder |= {"anonymous_id": "undefined", "customer_id": None}
    human = {"write_key": "demo-secret-key", "batch": [good, placeholder]}
    assert httpx.post(url, json=human, timeout=10).json()["accepted"] == 2
    bot = {"User-Agent": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"}
    body = {"write_key": "demo-write-key", "batch": [crawled]}  # a browser key: bots diverted
    assert httpx.post(url, json=body, headers=bot, timeout=10).json()["accepted"] == 1
    wait_until_queryable(sql, 1, timeout=60)
    for _ in range(120):
        if sql.scalar("SELECT count() FROM overflow_events") == 2:
            break
        time.sleep(0.5)
    diverted = sql.rows("SELECT event_id FROM overflow_events FINAL ORDER BY event_id")
    assert sorted(row["event_id"] for row in diverted) == sorted(
        [placeholder["event_id"], crawled["event_id"]]
    )
    assert [r["event_id"] for r in sql.rows("SELECT event_id FROM events")] == [good["event_id"]]
    profiled = sql.rows("SELECT profile_id FROM profiles FINAL WHERE merged_into = ''")
    assert "undefined" not in {row["profile_id"] for row in profiled}
    assert "anon-undefined" not in {row["profile_id"] for row in profiled}
