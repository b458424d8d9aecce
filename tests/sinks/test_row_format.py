"""The sink's insert format stores exactly what clickhouse-connect's own insert stores.

Rows go to ClickHouse as JSON columns (``encode``) rather than Native blocks built in Python;
these tests insert the same rows both ways and compare every column.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from clickhouse_connect.driver.client import Client

from sinks.clickhouse import insert_rows
from sinks.rows import (
    EVENTS,
    PROFILES,
    WEBHOOK_ATTEMPTS,
    Table,
    encode,
    to_row,
)
from tests.sinks.scratch import scratch_database

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

AWKWARD_TEXT = [
    "plain",
    'quote " and \\ backslash',
    "new\nline\ttab",
    "nul \u0000 end",
    "émoji 🛒 ✓",
    "",
]
AMOUNTS = ["1e2", "12345678901234.5678", "0.00001", "-3.5", 7, "0", None]


def awkward_events() -> list[dict[str, Any]]:
    events = []
    for n in range(42):
        text = AWKWARD_TEXT[n % len(AWKWARD_TEXT)]
        events.append(
            {
                "event_id": str(uuid.uuid4()),
                "site_id": f"site {text}",
                "type": "order_placed" if n % 2 else "cart_add",
                "anonymous_id": text,
                "customer_id": text if n % 3 else None,
                "occurred_at": f"2026-09-01T12:30:00.{n * 23_813:06d}+0{n % 9}:{15 * (n % 4):02d}",
                "received_at": "2026-09-01T12:30:00Z" if n % 5 else None,
                "verified": bool(n % 2),
                "context": {
                    "url": f"https://shop.example/?q=[{text}],[x]",
                    "utm": {"source": text},
                },
                "properties": {
                    "total": AMOUNTS[n % len(AMOUNTS)],
                    "amount": AMOUNTS[(n + 1) % len(AMOUNTS)],
                    "price": 3.14159,
                    "quantity": [0, 1, 4_294_967_295][n % 3],
                    "note": text,
                },
            }
        )
    return events


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    with scratch_database("row_format_test") as client:
        yield client


def stored_both_ways(client: Client, table: Table, rows: list[list[Any]]) -> tuple[int, int]:
    """Rows only in the Native copy, rows only in the JSON copy."""
    client.command(f"CREATE TABLE native_{table.name} AS {table.name}")
    client.command(f"CREATE TABLE json_{table.name} AS {table.name}")
    client.insert(f"native_{table.name}", rows, column_names=table.columns)
    insert_rows(client, f"json_{table.name}", table.columns, rows)
    columns = ", ".join(table.columns)
    native = f"SELECT {columns} FROM native_{table.name}"
    json = f"SELECT {columns} FROM json_{table.name}"
    assert client.command(f"SELECT count() FROM json_{table.name}") == len(rows)
    return (
        int(client.command(f"SELECT count() FROM ({native} EXCEPT {json})")),
        int(client.command(f"SELECT count() FROM ({json} EXCEPT {native})")),
    )


def test_events_are_stored_the_same_as_by_a_native_insert(client: Client) -> None:
    rows = [to_row(EVENTS, orjson.dumps(event)) for event in awkward_events()]
    assert stored_both_ways(client, EVENTS, rows) == (0, 0)


def test_profiles_and_webhook_attempts_are_stored_the_same(client: Client) -> None:
    profiles = [
        {
            "site_id": "s",
            "profile_id": f"p{n}",
            "version": n,
            "first_seen": "2026-09-01T00:00:00.5+00:00",
            "counts": {"page_view": n},
            "revenue": AMOUNTS[n % len(AMOUNTS)],
            "stage": "browsing",
            "note": AWKWARD_TEXT[n % len(AWKWARD_TEXT)],
        }
        for n in range(12)
    ]
    rows = [to_row(PROFILES, orjson.dumps(p)) for p in profiles]
    assert stored_both_ways(client, PROFILES, rows) == (0, 0)
    attempts = [
        {
            "delivery_id": f"d{n}",
            "subscription_id": "sub",
            "site_id": "s",
            "event_kind": "cart_abandoned",
            "url": "https://hooks.example/x",
            "attempt": n,
            "status": 200 if n % 2 else None,
            "outcome": "delivered",
            "latency_ms": [0.1, 12.345678, 1e-7, 98765.4321][n % 4],
            "error": AWKWARD_TEXT[n % len(AWKWARD_TEXT)],
            "at": "2026-09-01T00:00:00Z",
        }
        for n in range(8)
    ]
    rows = [to_row(WEBHOOK_ATTEMPTS, orjson.dumps(a)) for a in attempts]
    assert stored_both_ways(client, WEBHOOK_ATTEMPTS, rows) == (0, 0)


def test_a_value_json_cannot_carry_is_refused_with_its_type() -> None:
    with pytest.raises(TypeError, match="complex"):
        encode([[1j]])
