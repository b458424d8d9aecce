"""The dashboard's catalogue of pages and charts, and its interval arithmetic. No processes."""

from __future__ import annotations

import shlex

import pytest

from dashboard.catalog import FILTERS, PAGES, Chart, queries
from dashboard.stats import wilson_interval


def test_every_chart_names_a_known_query_and_takes_the_site() -> None:
    for page in PAGES:
        for chart in page.charts:
            assert chart.query in queries(), f"{page.id}/{chart.id}"
            assert "site" in chart.filters(), f"{page.id}/{chart.id} ignores the site filter"


def test_page_filters_reach_only_queries_that_declare_them() -> None:
    chart = next(c for p in PAGES for c in p.charts if c.query == "rfm_grid")
    given = {"site": "s", "from": "2026-01-01", "to": "2026-02-01", "segment": "champions"}
    assert chart.arguments(given) == {"site": "s"}
    assert chart.filters() == ["site"]  # the page shows period and segment as not applying


def test_the_shown_command_runs_the_same_query_in_a_shell() -> None:
    funnel = next(c for p in PAGES for c in p.charts if c.id == "steps")
    arguments = funnel.arguments({"site": "it's", "segment": "*"})
    words = shlex.split(funnel.command(arguments))
    assert words[:3] == ["footfall", "sql", funnel.recipe.sql]
    assert {"site=it's", "segment=*"} <= set(words)
    cookbook = next(c for p in PAGES for c in p.charts if c.query == "purchase_heatmap")
    assert shlex.split(cookbook.command({"site": "demo"})) == [
        "footfall",
        "sql",
        "-q",
        "purchase_heatmap",
        "-p",
        "site=demo",
    ]


def test_dashboard_queries_take_the_filters_under_their_names() -> None:
    own = [c for p in PAGES for c in p.charts if c.source == "dashboard"]
    for chart in own:
        declared = {p.name for p in chart.recipe.params}
        for name in declared & set(FILTERS):
            assert f"{{{name}:" in chart.recipe.sql, f"{chart.query} declares {name} unused"


@pytest.mark.parametrize(
    ("successes", "trials", "low", "high"),
    [
        (0, 10, 0.0, 0.2775),
        (5, 10, 0.2366, 0.7634),
        (1, 10, 0.0179, 0.4042),
        (10, 10, 0.7225, 1.0),
    ],
)
def test_wilson_interval_matches_published_values(
    successes: int, trials: int, low: float, high: float
) -> None:
    found = wilson_interval(successes, trials)
    assert found == pytest.approx((low, high), abs=1e-4)


def test_no_trials_claims_nothing() -> None:
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_charts_that_share_an_answer_each_draw_their_own_rows() -> None:
    answer = [
        {"grouping": "total", "day": "1970-01-01", "events": 9},
        {"grouping": "day", "day": "2026-11-30", "events": 4},
        {"grouping": "day", "day": "2026-12-01", "events": 5},
    ]
    overview = next(p for p in PAGES if p.id == "overview")
    totals, daily = overview.chart("totals"), overview.chart("daily")
    assert totals.query == daily.query
    assert totals.kept(answer) == [{"events": 9}]
    assert daily.kept(answer) == [
        {"day": "2026-11-30", "events": 4},
        {"day": "2026-12-01", "events": 5},
    ]
    assert Chart("all", "All", "table", "overview").kept(answer) == answer


def test_a_chart_exported_as_csv_draws_its_query_whole() -> None:
    """The CSV endpoint streams the engine's answer as it is: no rows to take out."""
    for page in PAGES:
        for chart in page.charts:
            if chart.csv:
                assert not chart.only, f"{page.id}/{chart.id}"
                assert not chart.hide, f"{page.id}/{chart.id}"
