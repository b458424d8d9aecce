"""Identity on the real stack: one customer on two devices is one profile, live and in SQL."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from base.sqlclient import SqlClient
from footfall.demo.report import wait_until_queryable
from footfall.demo.sender import send_all
from footfall.stack import Stack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

START = datetime(2026, 10, 1, tzinfo=UTC)


def event(browser: str, n: int, kind: str = "page_view", **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "type": kind,
        "anonymous_id": browser,
        "session_id": f"s-{browser}",
        "occurred_at": (START + timedelta(minutes=n)).isoformat(),
    }
    return body | fields


def order(browser: str, n: int, total: str) -> dict[str, Any]:
    properties = {"order_id": f"o-{browser}-{n}", "total": total, "currency": "EUR"}
    return event(browser, n, "order_placed", properties=properties)


def send(stack: Stack, events: list[dict[str, Any]]) -> None:
    report = asyncio.run(
        send_all(stack.settings.collector_url, [("demo-secret-key", events)], batch_size=10)
    )
    assert report.accepted == len(events), report.rejected


def live(stack: Stack, path: str, until: Any) -> dict[str, Any]:
    """The worker's answer once ``until(body)`` holds (the stream is asynchronous)."""
    deadline = time.monotonic() + 60
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = httpx.get(f"{stack.settings.worker_url}{path}", timeout=10)
        if response.status_code == 200:
            body = response.json()
            if until(body):
                return body
        time.sleep(0.5)
    raise AssertionError(f"{path} never satisfied the condition; last answer {body}")


def test_two_devices_one_customer_and_two_customers_never_merged(
    stack: Stack, sql: SqlClient
) -> None:
    # Before identification: a laptop and a phone browse anonymously, the phone orders.
    before = [event("laptop", n) for n in range(5)] + [event("phone", 10 + n) for n in range(3)]
    before.append(order("phone", 14, "20.00"))
    before.append(event("shared", 15))
    send(stack, before)
    # Both identify as c1; the shared tablet is used by c2 and then by c3.
    send(
        stack,
        [
            event("laptop", 20, "identify", customer_id="c1"),
            event("phone", 21, "identify", customer_id="c1"),
            event("shared", 22, "identify", customer_id="c2"),
        ],
    )
    send(stack, [event("shared", 23, "identify", customer_id="c3")])
    # Afterwards the devices send no customer id: their events still reach c1.
    after = [event("laptop", 30 + n) for n in range(4)] + [order("phone", 40, "30.50")]
    after.append(event("shared", 41))
    send(stack, after)
    total = len(before) + 4 + len(after)

    c1 = live(stack, "/profiles/demo/c1", lambda b: b["event_count"] == 5 + 4 + 2 + 4 + 1)
    assert c1["orders"] == 2
    assert Decimal(c1["revenue"]) == Decimal("50.50")
    assert sorted(c1["anonymous_ids"]) == ["laptop", "phone"]
    assert c1["first_seen"].startswith("2026-10-01T00:00")
    assert c1["figures"]["average_order_value"] == "25.25"
    laptop = live(stack, "/profiles/demo/anon-laptop", lambda b: b["merged_into"] == "c1")
    assert laptop["event_count"] == 5
    # The shared browser: c2 and c3 stay apart; its last event belongs to c3.
    c2 = live(stack, "/profiles/demo/c2", lambda b: b["event_count"] >= 1)
    c3 = live(stack, "/profiles/demo/c3", lambda b: b["event_count"] == 2)
    assert c2["event_count"] == 1 + 1  # identify + the anonymous page view merged in
    assert c3["merged_into"] is None
    history = live(stack, "/identity/demo/shared", lambda b: len(b["links"]) == 2)
    assert [link["customer"] for link in history["links"]] == ["c2", "c3"]
    assert history["links"][0]["merged"] == "anon-shared"
    assert history["links"][1]["merged"] is None

    # The snapshots reach ClickHouse: merged profiles out, the customers' sums exact.
    wait_until_queryable(sql, total, timeout=90)
    deadline = time.monotonic() + 60
    rows: dict[str, Any] = {}
    while time.monotonic() < deadline:
        rows = {
            r["profile_id"]: r
            for r in sql.rows(
                "SELECT profile_id, event_count, orders, toString(revenue) AS revenue "
                "FROM profiles FINAL WHERE merged_into = ''"
            )
        }
        if rows.get("c1", {}).get("event_count") == 16 and "c3" in rows:
            break
        time.sleep(1)
    assert set(rows) == {"c1", "c2", "c3"}
    assert (int(rows["c1"]["orders"]), Decimal(rows["c1"]["revenue"])) == (2, Decimal("50.50"))
    assert sum(int(r["event_count"]) for r in rows.values()) == total
