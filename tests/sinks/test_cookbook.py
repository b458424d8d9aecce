"""Every cookbook query on the embedded engine against a small, hand-checked data set."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from clickhouse_connect.driver.client import Client

from base.cookbook import CookbookError, recipe, recipes
from sinks.rows import EVENTS, SEGMENT_CHANGES, to_row
from tests.sinks.scratch import scratch_database

SITE = "s"


def event(kind: str, who: str, at: str, session: str, **props: Any) -> dict[str, Any]:
    utm = props.pop("utm", {})
    customer = props.pop("customer", who)
    return {
        "event_id": str(uuid.uuid4()),
        "site_id": SITE,
        "type": kind,
        "anonymous_id": f"b-{who}",
        "customer_id": customer,
        "session_id": session,
        "occurred_at": at,
        "context": {"utm": utm},
        "properties": props,
    }


def order(
    who: str, at: str, session: str, total: str, items: list[tuple[str, str, int]], **extra: Any
) -> dict[str, Any]:
    lines = [{"product_id": p, "price": price, "quantity": q} for p, price, q in items]
    return event(
        "order_placed",
        who,
        at,
        session,
        order_id=f"o-{at}",
        total=total,
        currency="EUR",
        items=lines,
        **extra,
    )


DATA = [
    # Browsing before logging in: attributed to c1 through the browser's later identification.
    event("page_view", "c1", "2026-11-02T08:50:00Z", "s1", customer=""),
    event(
        "experiment_exposure",
        "c1",
        "2026-11-02T09:00:00Z",
        "s1",
        experiment="hero",
        variant="A",
        utm={"source": "google", "medium": "cpc"},
    ),
    event("product_view", "c1", "2026-11-02T09:10:00Z", "s1", product_id="p1", price="90"),
    event("cart_add", "c1", "2026-11-02T09:20:00Z", "s1", product_id="p1", price="90", quantity=1),
    event(
        "checkout_started",
        "c1",
        "2026-11-02T09:30:00Z",
        "s1",
        utm={"source": "newsletter", "medium": "email"},
    ),
    order(
        "c1", "2026-11-02T10:00:00Z", "s1", "100", [("p1", "90", 1)], coupon="SAVE10", discount="10"
    ),
    event(
        "experiment_exposure",
        "c2",
        "2026-11-02T11:00:00Z",
        "s2",
        experiment="hero",
        variant="B",
        utm={"source": "instagram", "medium": "social"},
    ),
    event("product_view", "c2", "2026-11-02T11:05:00Z", "s2", product_id="p2", price="20"),
    event("cart_add", "c2", "2026-11-02T11:06:00Z", "s2", product_id="p2", price="20", quantity=1),
    event("product_view", "c3", "2026-11-03T08:00:00Z", "s3", product_id="p3", price="5"),
    event(
        "experiment_exposure", "c4", "2026-11-03T14:00:00Z", "s4", experiment="hero", variant="A"
    ),
    event("product_view", "c4", "2026-11-03T14:10:00Z", "s4", product_id="p2", price="20"),
    event("cart_add", "c4", "2026-11-03T14:20:00Z", "s4", product_id="p2", price="20", quantity=1),
    event("checkout_started", "c4", "2026-11-03T14:30:00Z", "s4"),
    # Sent by the shop backend: another session, the same customer.
    order("c4", "2026-11-03T15:00:00Z", "backend", "50", [("p2", "20", 1), ("p3", "15", 2)]),
    order("c4", "2026-11-10T15:00:00Z", "s5", "70", [("p3", "35", 2)]),
    event(
        "review",
        "c1",
        "2026-11-04T10:00:00Z",
        "s6",
        product_id="p1",
        rating=1,
        title="Broken",
        text="zipper broken on day one",
    ),
    event(
        "review",
        "c2",
        "2026-11-04T11:00:00Z",
        "s7",
        product_id="p1",
        rating=2,
        text="slow delivery",
    ),
    event(
        "review",
        "c4",
        "2026-11-04T12:00:00Z",
        "s8",
        product_id="p2",
        rating=5,
        text="great quality",
    ),
]
SEGMENTS = [
    ("c1", "big_spenders", "entered", "2026-11-02T10:00:01Z"),
    ("c4", "big_spenders", "entered", "2026-11-03T15:00:01Z"),
    ("c4", "big_spenders", "exited", "2026-11-05T00:00:00Z"),
    ("c4", "loyal", "entered", "2026-11-10T15:00:01Z"),
]


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    with scratch_database("cookbook_test") as client:
        client.insert(
            "events", [to_row(EVENTS, orjson.dumps(e)) for e in DATA], column_names=EVENTS.columns
        )
        changes = [
            {"site_id": SITE, "profile_id": p, "segment": s, "change": c, "cause": "rule", "at": at}
            for p, s, c, at in SEGMENTS
        ]
        client.insert(
            "segment_changes",
            [to_row(SEGMENT_CHANGES, orjson.dumps(c)) for c in changes],
            column_names=SEGMENT_CHANGES.columns,
        )
        yield client


def run(client: Client, name: str, **params: str) -> list[dict[str, Any]]:
    chosen = recipe(name)
    result = client.query(chosen.sql, parameters=chosen.arguments({"site": SITE} | params))
    return [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]


def test_every_recipe_is_documented_and_tested() -> None:
    tested = {name.removeprefix("test_") for name in globals() if name.startswith("test_")}
    for name, item in recipes().items():
        assert item.description, name
        assert name in tested, f"cookbook query {name} has no test"


def test_funnel(client: Client) -> None:
    [row] = run(client, "funnel")
    assert (row["viewed"], row["carted"], row["checked_out"], row["ordered"]) == (4, 3, 2, 2)
    assert row["conversion_pct"] == 50.0


def test_cohort_retention(client: Client) -> None:
    rows = run(client, "cohort_retention")
    assert [(r["week_number"], r["active"], r["retained_pct"]) for r in rows] == [
        (0, 4, 100.0),
        (1, 1, 25.0),
    ]


def test_rfm_grid(client: Client) -> None:
    rows = run(client, "rfm_grid")
    assert [(r["r"], r["f"], r["customers"], r["revenue"]) for r in rows] == [
        (2, 2, 1, Decimal(120)),
        (1, 1, 1, Decimal(100)),
    ]


def test_channel_revenue(client: Client) -> None:
    rows = {(r["model"], r["channel"]): r for r in run(client, "channel_revenue")}
    assert rows[("first touch", "google / cpc")]["revenue"] == Decimal(100)
    assert rows[("last touch", "newsletter / email")]["revenue"] == Decimal(100)
    assert rows[("first touch", "instagram / social")]["buyers"] == 0
    assert rows[("first touch", "(direct)")]["people"] == 2
    assert rows[("first touch", "(direct)")]["revenue"] == Decimal(120)


def test_coupon_revenue(client: Client) -> None:
    rows = {r["coupon_code"]: r for r in run(client, "coupon_revenue")}
    assert (rows["SAVE10"]["orders"], rows["SAVE10"]["revenue"]) == (1, Decimal(100))
    assert rows["SAVE10"]["avg_discount"] == Decimal(10)
    assert (rows["(none)"]["orders"], rows["(none)"]["revenue"]) == (2, Decimal(120))


def test_cart_abandonment(client: Client) -> None:
    [row] = run(client, "cart_abandonment")
    assert (row["carts"], row["abandoned"], row["abandoned_value"]) == (3, 1, Decimal(20))
    assert row["abandonment_pct"] == pytest.approx(33.3)


def test_purchase_heatmap(client: Client) -> None:
    rows = run(client, "purchase_heatmap")
    assert [(r["weekday"], r["hour"], r["orders"]) for r in rows] == [(1, 10, 1), (2, 15, 2)]


def test_segment_members(client: Client) -> None:
    rows = run(client, "segment_members")
    assert [(r["segment"], r["profile_id"]) for r in rows] == [
        ("big_spenders", "c1"),
        ("loyal", "c4"),
    ]


def test_top_products_per_segment(client: Client) -> None:
    rows = run(client, "top_products_per_segment")
    assert [(r["segment"], r["product_id"], r["units"]) for r in rows] == [
        ("big_spenders", "p1", 1),
        ("loyal", "p3", 4),
        ("loyal", "p2", 1),
    ]


def test_aov_by_segment(client: Client) -> None:
    rows = {r["segment"]: r for r in run(client, "aov_by_segment")}
    assert rows["big_spenders"]["aov"] == Decimal(100)
    assert (rows["loyal"]["order_count"], rows["loyal"]["aov"]) == (2, Decimal(60))


def test_review_ratings(client: Client) -> None:
    rows = run(client, "review_ratings")
    assert [(r["product_id"], r["reviews"], r["mean_rating"], r["low_ratings"]) for r in rows] == [
        ("p1", 2, 1.5, 2),
        ("p2", 1, 5.0, 0),
    ]


def test_low_rating_words(client: Client) -> None:
    rows = run(client, "low_rating_words")
    assert [(r["word"], r["mentions"]) for r in rows] == [
        ("broken", 1),
        ("delivery", 1),
        ("slow", 1),
        ("zipper", 1),
    ]


def test_ab_conversion(client: Client) -> None:
    rows = run(client, "ab_conversion", experiment="hero")
    assert [(r["variant"], r["exposed_people"], r["converted"]) for r in rows] == [
        ("A", 2, 2),
        ("B", 1, 0),
    ]


def test_a_missing_parameter_is_named() -> None:
    with pytest.raises(CookbookError, match="experiment"):
        recipe("ab_conversion").arguments({"site": SITE})


def test_every_query_is_documented_as_it_runs() -> None:
    docs = (Path(__file__).parents[2] / "docs" / "sql-cookbook.md").read_text()
    missing = [name for name in recipes() if f"## `{name}`" not in docs]
    assert not missing, f"docs/sql-cookbook.md lacks {missing}"
    stale = [
        name
        for name, found in recipes().items()
        if f"```sql\n{found.sql.strip()}\n```" not in docs.split(f"## `{name}`", 1)[1]
    ]
    assert not stale, f"docs/sql-cookbook.md shows other SQL than base/queries for {stale}"
