"""The demo report: what a shop owner wants to see first, straight from ClickHouse."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table

from base.cookbook import recipe
from base.sqlclient import SqlClient

CURRENT_PROFILES = """
SELECT * FROM profiles FINAL WHERE merged_into = ''
"""

STAYS = """
SELECT from_stage AS stage, count() AS stays,
       round(median(dateDiff('second', entered, at)) / 3600, 1) AS median_hours
FROM
(
    SELECT from_stage, at,
           lagInFrame(at) OVER (PARTITION BY site_id, profile_id ORDER BY at
               ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS entered,
           row_number() OVER (PARTITION BY site_id, profile_id ORDER BY at) AS n
    FROM journey_transitions FINAL
)
WHERE n > 1
GROUP BY stage
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
        SELECT if(current.stage = '', left_after.stage, current.stage) AS stage,
               profiles, median_days_so_far,
               left_after.stays AS stays_ended, left_after.median_hours AS median_hours_per_stay
        FROM
        (
            SELECT stage, count() AS profiles,
                   round(median(dateDiff('second', stage_since, now64())) / 86400, 1)
                       AS median_days_so_far
            FROM ({CURRENT_PROFILES}) GROUP BY stage
        ) AS current
        FULL JOIN ({STAYS}) AS left_after ON left_after.stage = current.stage
        ORDER BY profiles DESC, stays_ended DESC""",
    "flow": """
        SELECT from_stage, to_stage, count() AS moves,
               countIf(startsWith(cause, 'timer:')) AS by_timer
        FROM journey_transitions FINAL
        GROUP BY from_stage, to_stage ORDER BY moves DESC""",
    "segments": """
        SELECT segment, count() AS members FROM
        (
            SELECT segment, profile_id FROM segment_changes FINAL
            GROUP BY segment, profile_id HAVING argMax(change, at) = 'entered'
        )
        GROUP BY segment ORDER BY members DESC""",
    "abandoners": f"""
        SELECT profile_id, stage, JSONExtractString(data, 'cart_value') AS cart_value,
               arrayStringConcat(arrayMap(kv -> concat(kv.1, ' x', toString(kv.2)),
                   JSONExtractKeysAndValues(data, 'cart', 'UInt32')), ', ') AS cart,
               formatDateTime(stage_since, '%Y-%m-%d %H:%i') AS since
        FROM ({CURRENT_PROFILES})
        WHERE stage IN ('cart_abandoned', 'checkout_abandoned') AND cart != ''
        ORDER BY toDecimal64OrZero(cart_value, 2) DESC LIMIT 5""",
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


OVERDUE = f"""
SELECT countIf(parseDateTime64BestEffortOrNull(JSONExtractString(data, 'due_at'), 3, 'UTC')
               < now64() - INTERVAL 1 SECOND)
FROM ({CURRENT_PROFILES})
"""


@dataclass(frozen=True)
class Progress:
    events: int
    profile_events: int
    overdue_timers: int = 0


def progress(sql: SqlClient) -> Progress:
    events = int(sql.scalar("SELECT count() FROM events FINAL") or 0)
    folded = sql.scalar(f"SELECT sum(event_count) FROM ({CURRENT_PROFILES})")
    return Progress(events, int(folded or 0), int(sql.scalar(OVERDUE) or 0))


def wait_until_queryable(
    sql: SqlClient,
    expected: int,
    timeout: float = 120.0,
    on_progress: Callable[[Progress], None] = lambda _: None,
    wait_for_timers: bool = False,
) -> Progress:
    """Wait until every accepted event is stored and folded into a profile.

    With ``wait_for_timers``, also until no journey timer (abandonment, risk) is overdue.
    """
    deadline = time.monotonic() + timeout
    while True:
        now = progress(sql)
        on_progress(now)
        settled = not wait_for_timers or now.overdue_timers == 0
        if now.events >= expected and now.profile_events >= expected and settled:
            return now
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"after {timeout:.0f}s: {now.events}/{expected} events stored, "
                f"{now.profile_events}/{expected} folded into profiles, "
                f"{now.overdue_timers} journey timers overdue"
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


def results_of(sql: SqlClient, site: str) -> dict[str, list[dict[str, Any]]]:
    """Every query of the report, with the cookbook's purchase-hour heatmap."""
    results = {name: sql.rows(query) for name, query in QUERIES.items()}
    heatmap = recipe("purchase_heatmap")
    results["purchase_hours"] = sql.rows(heatmap.sql, heatmap.arguments({"site": site}))
    return results


def render(
    results: dict[str, list[dict[str, Any]]], console: Console, sent: int, elapsed: float
) -> str:
    """Print the report; return its headline."""
    funnel = results["funnel"][0]
    headline = (
        f"{sent:,} events sent over HTTP and queryable in ClickHouse "
        f"{elapsed:.1f}s after the first one was sent."
    )
    console.print(
        Panel(
            Group(
                headline,
                "",
                table("Events by type", results["events_by_type"]),
                "",
                "[bold]Funnel (profiles): product view → cart → order → repeat[/bold]",
                funnel_bars(funnel),
                "",
                table(
                    "Profiles per journey stage (median days so far; median hours per stay ended)",
                    results["stages"],
                ),
                "",
                table("Stage flow: the most frequent moves", results["flow"][:12]),
                "",
                table("Segment sizes", results["segments"]),
                "",
                table("Cart abandoners with the most left in their cart", results["abandoners"]),
                "",
                table("Top customers by revenue", results["top_customers"]),
                "",
                table("Acquisition channels (first-party UTM)", results["channels"]),
            ),
            title="Footfall demo report",
        )
    )
    return headline
