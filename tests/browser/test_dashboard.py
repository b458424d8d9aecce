"""The dashboard in Debian's Chromium, on a stack fed with the demo's shoppers.

Every page loads, each chart drew its data points with no console error, and the numbers it
drew are those the same query gives through the sink's SQL endpoint (the read path of
``footfall sql``). Screenshots of every page at desktop and phone width are written to
``test-artifacts/dashboard/``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from base.sqlclient import SqlClient
from dashboard.catalog import PAGES, queries
from dashboard.reading import with_interval
from footfall.demo.report import wait_until_queryable
from footfall.demo.sender import send_all
from footfall.demo.simulator import simulate
from footfall.stack import Stack

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.timeout(300)]

ARTIFACTS = Path(__file__).parents[2] / "test-artifacts" / "dashboard"
WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}
LIVE_FIGURES = {"lag"}  # seconds since the last event: changes between the page and the check


@pytest.fixture(scope="module")
def demo(stack: Stack) -> Iterator[tuple[Stack, SqlClient]]:
    """The browser tests' stack (its dashboard on), fed with the demo's shoppers."""
    settings = stack.settings
    sim = simulate(50, seed=9, weeks=6)
    streams = [("demo-write-key", sim.browser_events), ("demo-secret-key", sim.server_events)]
    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API owns this thread's loop
        report = pool.submit(asyncio.run, send_all(settings.collector_url, streams)).result()
    sql = SqlClient(settings.sink_url, settings.admin_token)
    wait_until_queryable(sql, report.accepted)
    with contextlib.suppress(TimeoutError):  # one timer is at times reported overdue for
        # minutes (the worker's, not the dashboard's); the others have fired by then
        wait_until_queryable(sql, report.accepted, timeout=30, wait_for_timers=True)
    yield stack, sql
    sql.close()


def numbers(value: Any) -> list[Decimal]:
    """The numbers a chart's series item holds (a value, a [x, y, value] cell, {value})."""
    if isinstance(value, dict):
        value = value.get("value")
    if isinstance(value, list):
        value = value[-1]
    return [] if value is None or isinstance(value, str) else [Decimal(str(value))]


def expected_total(
    kind: str, y: tuple[str, ...], series: str, rows: list[dict[str, Any]]
) -> Decimal:
    """What the chart's drawn values add up to, computed from the SQL endpoint's rows."""
    if kind == "sankey":
        columns: tuple[str, ...] = ("moves",)
    elif kind == "heatmap":
        columns = (y[1],)
    elif kind == "ci":
        columns = ("conversion_pct", "ci_high_pct")  # the bars; an interval's last value
    elif series:
        columns = (y[0],)
    else:
        columns = y
    return sum((Decimal(str(row[c])) for row in rows for c in columns), Decimal(0))


CARDS = """() => [...document.querySelectorAll('#cards .card')].map(card => {
  const el = card.querySelector('.chart');
  const option = el ? echarts.getInstanceByDom(el).getOption() : null;
  return {
    name: card.dataset.chart, kind: card.dataset.kind, query: card.dataset.query,
    params: card.dataset.params, points: Number(card.dataset.points || 0),
    cells: [...card.querySelectorAll('[data-field]')].map(c => [c.dataset.field, c.dataset.value]),
    series: option
      ? option.series.map(s => s.type === 'sankey' ? s.links.map(l => l.value) : s.data) : null,
  };
})"""


def open_page(
    browser: Any, stack: Stack, hash_: str, size: tuple[int, int]
) -> tuple[Any, Any, list[str]]:
    context = browser.new_context(viewport={"width": size[0], "height": size[1]})
    url = stack.settings.dashboard_url
    signed_in = context.request.post(f"{url}/api/login", data={"token": stack.settings.admin_token})
    assert signed_in.ok, signed_in.text()
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{url}/#{hash_}")
    wait_drawn(page, hash_.split("/", maxsplit=1)[0], "wide")
    return context, page, errors


def wait_drawn(page: Any, page_id: str, layout: str) -> None:
    """Until ``page_id`` is drawn for a ``layout`` ("wide" or "phone") screen."""
    page.wait_for_function(
        f"document.body.dataset.loaded === '{page_id}'"
        f" && document.body.dataset.layout === '{layout}'",
        timeout=60_000,
    )
    failed = page.evaluate(
        "[...document.querySelectorAll('#cards .card .error')].map(e => e.textContent)"
    )
    assert not failed, f"charts of {page_id} answered with an error: {failed}"
    page.wait_for_function(
        "[...document.querySelectorAll('#cards .card')]"
        ".every(c => c.dataset.drawn === '1' && c.dataset.chart)",
        timeout=30_000,
    )


@pytest.mark.parametrize("page_id", [p.id for p in PAGES])
def test_page_draws_the_endpoints_numbers(
    page_id: str, demo: tuple[Stack, SqlClient], chromium: Any
) -> None:
    stack, sql = demo
    hash_ = page_id
    if page_id == "customer":
        best = sql.rows(
            "SELECT profile_id FROM profiles FINAL ORDER BY orders DESC, profile_id LIMIT 1"
        )
        hash_ = f"customer/{best[0]['profile_id']}"
    expected = {c.id for c in next(p for p in PAGES if p.id == page_id).charts}
    context, page, errors = open_page(chromium, stack, hash_, WIDTHS["desktop"])
    try:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        drawings = page.evaluate("state.drawing")
        # A full-page capture resizes the window to 1px wide and back: a passing size, no
        # layout change to redraw the page for (which once left half-drawn cards behind).
        page.set_viewport_size({"width": 1, "height": WIDTHS["desktop"][1]})
        page.set_viewport_size(dict(zip(("width", "height"), WIDTHS["desktop"], strict=True)))
        page.screenshot(path=str(ARTIFACTS / f"{page_id}-desktop.png"), full_page=True)
        page.wait_for_timeout(500)  # longer than the page lets a resize settle
        assert page.evaluate("state.drawing") == drawings, "a passing resize redrew the page"
        cards = page.evaluate(CARDS)
        drawn = {c["name"].split("/")[1].split("-")[0] for c in cards}
        assert expected <= drawn, f"charts missing on {page_id}: {expected - drawn}"
        for card in cards:
            check_card(card, sql)
        width, height = WIDTHS["phone"]
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_function(f"document.documentElement.clientWidth === {width}")
        wait_drawn(page, page_id, "phone")  # crossing to a phone's width redraws the page
        page.screenshot(path=str(ARTIFACTS / f"{page_id}-phone.png"), full_page=True)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{page_id} is wider than a phone's screen by {overflow}px"
        assert errors == [], errors
    finally:
        context.close()


def check_card(card: dict[str, Any], sql: SqlClient) -> None:
    name = card["name"]
    assert card["points"] > 0, f"{name} drew no data points"
    if card["query"] not in queries() or name.split("/")[1] in LIVE_FIGURES:
        return  # the worker's live figures, or figures that change by the second
    chart = next(c for p in PAGES for c in p.charts if f"{p.id}/{c.id}" == name.split("-")[0])
    rows = chart.kept(sql.rows(queries()[card["query"]].sql, orjson.loads(card["params"])))
    assert rows, f"{name}: the query gives no rows for this chart"
    kind = card["kind"]
    if kind in ("kpi", "table"):
        want = [[col, "" if v is None else str(v)] for row in rows for col, v in row.items()]
        assert card["cells"] == want, name
        return
    if kind == "ci":
        rows = [with_interval(row) for row in rows]
    total = sum((n for data in card["series"] for item in data for n in numbers(item)), Decimal(0))
    assert total == expected_total(kind, chart.y, chart.series, rows), name


def test_sign_in_is_required_and_members_export_as_csv(demo: tuple[Stack, SqlClient]) -> None:
    stack, sql = demo
    url = stack.settings.dashboard_url
    assert httpx.get(f"{url}/api/meta").status_code == 401
    wrong = httpx.get(f"{url}/api/meta", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    admin = {"Authorization": f"Bearer {stack.settings.admin_token}"}
    exported = httpx.get(f"{url}/api/csv/segments/members", params={"site": "demo"}, headers=admin)
    assert exported.status_code == 200
    lines = exported.text.strip().splitlines()
    assert lines[0].startswith('"segment","profile_id"')
    members = sql.scalar(
        "SELECT count() FROM (SELECT segment, profile_id FROM segment_membership "
        "WHERE site_id = 'demo' GROUP BY segment, profile_id "
        "HAVING argMaxMerge(last_change) = 'entered')"
    )
    assert len(lines) - 1 == members
