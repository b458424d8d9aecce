"""The demo report as one self-contained HTML page with inline SVG charts (no scripts, no CDN).

Pure functions from query rows to markup; the caller writes the page.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from schemas.profile import STAGES

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; color: #222; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.15rem; margin-top: 2.2rem; }
table { border-collapse: collapse; }
td, th { padding: .25rem .6rem; border-bottom: 1px solid #ddd; }
th { text-align: left; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
svg text { font: 12px system-ui, sans-serif; fill: #333; } .muted { color: #777; }
"""


def number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def bars(rows: Sequence[dict[str, Any]], label: str, value: str, width: int = 640) -> str:
    """Horizontal bars, one per row, longest first as given."""
    if not rows:
        return '<p class="muted">(no rows)</p>'
    top = max(number(row[value]) for row in rows) or 1.0
    left, row_h, chart_w = 170, 22, width - 170 - 70
    parts = [f'<svg width="{width}" height="{row_h * len(rows) + 4}" role="img">']
    for i, row in enumerate(rows):
        y = i * row_h
        length = max(1.0, chart_w * number(row[value]) / top)
        parts.append(
            f'<text x="{left - 8}" y="{y + 15}" text-anchor="end">{escape(str(row[label]))}</text>'
            f'<rect x="{left}" y="{y + 3}" width="{length:.1f}" height="{row_h - 6}" '
            f'fill="#3b7dd8"/>'
            f'<text x="{left + length + 6:.1f}" y="{y + 15}">{escape(str(row[value]))}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def heatmap(
    cells: dict[tuple[str, str], float],
    rows: Sequence[str],
    columns: Sequence[str],
    cell: int = 24,
) -> str:
    """A grid of shaded cells: darker is more; the count is written in each non-empty cell."""
    top = max(cells.values(), default=0.0) or 1.0
    left = 12 + 7 * max((len(row) for row in rows), default=0)
    head = 16 + round(5.5 * max((len(column) for column in columns), default=0))
    # Column labels are written slanted up to the right: leave room for the last one.
    width, height = left + cell * len(columns) + head, head + cell * len(rows) + 4
    parts = [f'<svg width="{width}" height="{height}" role="img">']
    for j, column in enumerate(columns):
        x = left + j * cell + cell / 2
        parts.append(
            f'<text transform="translate({x:.0f},{head - 6}) rotate(-50)">{escape(column)}</text>'
        )
    for i, row in enumerate(rows):
        y = head + i * cell
        parts.append(f'<text x="{left - 6}" y="{y + 16}" text-anchor="end">{escape(row)}</text>')
        for j, column in enumerate(columns):
            value = cells.get((row, column), 0.0)
            shade = 0.08 + 0.92 * value / top if value else 0.0
            x = left + j * cell
            parts.append(
                f'<rect x="{x}" y="{y}" width="{cell - 2}" height="{cell - 2}" '
                f'fill="#d8563b" fill-opacity="{shade:.2f}" stroke="#eee"/>'
            )
            if value:
                ink = "#fff" if shade > 0.55 else "#333"
                parts.append(
                    f'<text x="{x + (cell - 2) / 2}" y="{y + 15}" text-anchor="middle" '
                    f'style="fill:{ink};font-size:9px">{value:.0f}</text>'
                )
    parts.append("</svg>")
    return "".join(parts)


def stage_flow(rows: Sequence[dict[str, Any]]) -> str:
    """Moves between journey stages as a grid: from-stage rows, to-stage columns."""
    cells = {(row["from_stage"], row["to_stage"]): number(row["moves"]) for row in rows}
    seen = {stage for pair in cells for stage in pair}
    order = [stage for stage in STAGES if stage in seen]
    order += sorted(seen - set(order))
    return heatmap(cells, order, order, cell=28)


def purchase_hours(rows: Sequence[dict[str, Any]]) -> str:
    """Orders by weekday (rows) and hour of day (columns), UTC."""
    cells = {
        (WEEKDAYS[int(row["weekday"]) - 1], f"{int(row['hour']):02d}h"): number(row["orders"])
        for row in rows
    }
    return heatmap(cells, WEEKDAYS, [f"{hour:02d}h" for hour in range(24)], cell=22)


def table(rows: Sequence[dict[str, Any]]) -> str:
    if not rows:
        return '<p class="muted">(no rows)</p>'
    head = "".join(f"<th>{escape(str(column))}</th>" for column in rows[0])
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="{"n" if isinstance(value, int | float) else ""}">{escape(str(value))}</td>'
            for value in row.values()
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def page(headline: str, results: dict[str, list[dict[str, Any]]]) -> str:
    """The whole report page from the report's query results."""
    funnel = results["funnel"][0] if results["funnel"] else {}
    steps = [{"step": step, "profiles": funnel.get(step, 0)} for step in funnel]
    sections = [
        (
            "Funnel (profiles): viewed → carted → ordered → reordered",
            bars(steps, "step", "profiles"),
        ),
        ("Events by type", bars(results["events_by_type"], "type", "events")),
        ("Profiles per journey stage", bars(results["stages"], "stage", "profiles")),
        ("Stage flow (from ↓, to →; number of moves)", stage_flow(results["flow"])),
        ("Orders by weekday and hour (UTC)", purchase_hours(results["purchase_hours"])),
        ("Segment sizes", bars(results["segments"], "segment", "members")),
        (
            "Acquisition channels: browsers per first-party UTM source",
            bars(results["channels"], "source", "browsers"),
        ),
        ("Cart abandoners with the most left in their cart", table(results["abandoners"])),
        ("Top customers by revenue", table(results["top_customers"])),
    ]
    body = "".join(f"<h2>{escape(title)}</h2>{content}" for title, content in sections)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Footfall demo report</title><style>{STYLE}</style></head>"
        f"<body><h1>Footfall demo report</h1><p>{escape(headline)}</p>{body}</body></html>"
    )
