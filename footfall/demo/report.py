"""The demo report: what a shop owner wants to see first, straight from ClickHouse."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table

from footfall.sqlclient import SqlClient

CURRENT_PROFILES = """
SELECT * FROM profiles FINAL WHERE merged_into = ''
"""

QUERIES: dict[str, str] = {
    "events_by_type": """
        SELECT type, count() AS events, uniqExact(anonymous_id) AS browsers
        FROM events FINAL GROUP BY type ORDER BY events DESC""",
    "funnel": f"""
        SELECT countIf(product_views > 0) AS viewed, countIf(cart_adds > 0) AS carted,
               countIf(orders > 0) AS ordered, countIf(orders > 1) AS reordered
        FROM ({CURRENT_PROFILES})""",
    "stages": f"""
        SELECT stage, count() AS profiles,
               round(avg(dateDiff('day', stage_since, last_seen)), 1) AS avg_days_in_stage
        FROM ({CURRENT_PROFILES}) GROUP BY stage ORDER BY profiles DESC""",
    "top_customers": f"""
        SELECT profile_id AS customer, orders, revenue, round(revenue / orders, 2) AS aov,
               stage, formatDateTime(last_seen, '%Y-%m-%d') AS last_seen
        FROM ({CURRENT_PROFILES}) WHERE orders > 0 ORDER BY revenue DESC LIMIT 10""",
    "channels": """
        SELECT if(utm_source = '', '(direct)', utm_source) AS source,
               uniqExact(anonymous_id) AS browsers, countIf(type = 'cart_add') AS cart_adds
        FROM events FINAL WHERE type != 'order_placed'
        GROUP BY source ORDER BY browsers DESC""",
}


@dataclass(frozen=True)
class Progress:
    events: int
    profile_events: int


def progress(sql: SqlClient) -> Progress:
    events = int(sql.scalar("SELECT count() FROM events FINAL") or 0)
    folded = sql.scalar(f"SELECT sum(event_count) FROM ({CURRENT_PROFILES})")
    return Progress(events, int(folded or 0))


def wait_until_queryable(
    sql: SqlClient,
    expected: int,
    timeout: float = 120.0,
    on_progress: Callable[[Progress], None] = lambda _: None,
) -> Progress:
    """Wait until every accepted event is stored and folded into a profile."""
    deadline = time.monotonic() + timeout
    while True:
        now = progress(sql)
        on_progress(now)
        if now.events >= expected and now.profile_events >= expected:
            return now
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"after {timeout:.0f}s: {now.events}/{expected} events stored, "
                f"{now.profile_events}/{expected} folded into profiles"
            )
        time.sleep(0.5)


def table(title: str, rows: list[dict[str, Any]]) -> Table:
    view = Table(title=title, title_justify="left", title_style="bold")
    if not rows:
        view.add_column("(no rows)")
        return view
    for column in rows[0]:
        view.add_column(
            column, justify="right" if isinstance(rows[0][column], int | float) else "left"
        )
    for row in rows:
        view.add_row(*(str(value) for value in row.values()))
    return view


def funnel_bars(row: dict[str, Any], width: int = 40) -> str:
    top = max(int(row["viewed"]), 1)
    lines = []
    for label in ("viewed", "carted", "ordered", "reordered"):
        value = int(row[label])
        bar = "█" * max(1, round(width * value / top)) if value else ""
        lines.append(f"{label:>10} {bar} {value} ({100 * value / top:.0f}%)")
    return "\n".join(lines)


def render(sql: SqlClient, console: Console, sent: int, elapsed: float) -> None:
    results = {name: sql.rows(query) for name, query in QUERIES.items()}
    funnel = results["funnel"][0]
    console.print(
        Panel(
            Group(
                f"{sent:,} events sent over HTTP and queryable in ClickHouse "
                f"{elapsed:.1f}s after the first one was sent.",
                "",
                table("Events by type", results["events_by_type"]),
                "",
                "[bold]Funnel (profiles): product view → cart → order → repeat[/bold]",
                funnel_bars(funnel),
                "",
                table("Profiles per journey stage", results["stages"]),
                "",
                table("Top customers by revenue", results["top_customers"]),
                "",
                table("Acquisition channels (first-party UTM)", results["channels"]),
            ),
            title="Footfall demo report",
        )
    )
