"""The demo's HTML report: charts from query rows, self-contained, text escaped."""

from __future__ import annotations

import re
from typing import Any

from footfall.demo.html import bars, heatmap, page, purchase_hours, stage_flow

RESULTS: dict[str, list[dict[str, Any]]] = {
    "funnel": [{"viewed": 10, "carted": 5, "ordered": 2, "reordered": 1}],
    "events_by_type": [{"type": "page_view", "events": 40, "browsers": 10}],
    "stages": [{"stage": "cart", "profiles": 3}],
    "flow": [
        {"from_stage": "cart", "to_stage": "cart_abandoned", "moves": 7, "by_timer": 7},
        {"from_stage": "visitor", "to_stage": "engaged", "moves": 3, "by_timer": 0},
    ],
    "purchase_hours": [{"weekday": 7, "hour": 23, "orders": 2, "revenue": 10}],
    "segments": [{"segment": "champions", "members": 4}],
    "channels": [{"source": "<script>", "browsers": 1, "cart_adds": 0}],
    "abandoners": [],
    "top_customers": [{"customer": "c1", "orders": 2, "revenue": 99.5}],
}


def widths(svg: str) -> list[float]:
    return [float(w) for w in re.findall(r'<rect x="\d+" y="[\d.]+" width="([\d.]+)"', svg)]


def test_bars_are_proportional_to_the_values() -> None:
    svg = bars([{"k": "a", "v": 10}, {"k": "b", "v": 5}], "k", "v")
    first, second = widths(svg)
    assert first == 2 * second


def test_heatmap_shades_more_as_darker_and_writes_counts() -> None:
    svg = heatmap({("r", "x"): 1.0, ("r", "y"): 4.0}, ["r"], ["x", "y"])
    opacities = [float(o) for o in re.findall(r'fill-opacity="([\d.]+)"', svg)]
    assert opacities[1] > opacities[0] > 0
    assert ">4<" in svg
    assert ">1<" in svg


def test_stage_flow_orders_stages_along_the_journey() -> None:
    svg = stage_flow(RESULTS["flow"])
    labels = re.findall(r'text-anchor="end">([a-z_]+)<', svg)
    assert labels == ["visitor", "engaged", "cart", "cart_abandoned"]


def test_purchase_hours_place_sunday_late_in_the_last_cell() -> None:
    svg = purchase_hours(RESULTS["purchase_hours"])
    cells = re.findall(r'<rect x="(\d+)" y="(\d+)"[^>]*fill-opacity="([\d.]+)"', svg)
    filled = [(int(x), int(y)) for x, y, shade in cells if float(shade) > 0]
    assert filled == [max((int(x), int(y)) for x, y, _ in cells)]


def test_page_is_self_contained_and_escapes_text() -> None:
    html = page("6 events", RESULTS)
    assert html.startswith("<!doctype html>")
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "http://" not in html
    assert "https://" not in html
    assert html.count("<svg") == 7
