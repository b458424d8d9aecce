"""The dashboard's pages and charts, and the queries behind them. Pure.

A chart names a query: a cookbook recipe (``base/queries``) where one answers the question,
else one of the dashboard's own (``dashboard/queries``, the same file format). A chart passes
the page's filters its query declares (site, period, segment) and its own fixed values; the
filters a query does not take are shown as not applying, never silently dropped.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from base.cookbook import CookbookError, Recipe, recipes

QUERIES_DIR = Path(__file__).parent / "queries"
FILTERS = ("site", "from", "to", "segment")
ALL_SEGMENTS = "*"


@cache
def queries() -> dict[str, Recipe]:
    """Every query a chart may name: the cookbook's, then the dashboard's own."""
    cookbook = recipes()
    own = recipes(QUERIES_DIR)
    clash = set(cookbook) & set(own)
    if clash:
        raise CookbookError(f"dashboard queries shadow cookbook recipes: {sorted(clash)}")
    return cookbook | own


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    kind: str
    """How the page draws it: kpi, line, bar, funnel, sankey, heatmap, pie or table."""
    query: str
    fixed: dict[str, str] = field(default_factory=dict)
    """Values of the query's own parameters (not filters) this chart always passes."""
    only: dict[str, str] = field(default_factory=dict)
    """The rows of the answer this chart draws, by column value: charts that share a query
    share one pass over the events (and one answer, kept a few seconds), each takes its own.
    The columns named here are left out of the rows (the same in all of them)."""
    hide: tuple[str, ...] = ()
    """Other columns of the shared answer this chart does not show."""
    x: str = ""
    y: tuple[str, ...] = ()
    series: str = ""
    """A column whose values split the rows into series (line and bar charts)."""
    csv: bool = False

    @property
    def recipe(self) -> Recipe:
        return queries()[self.query]

    @property
    def source(self) -> str:
        return "cookbook" if self.query in recipes() else "dashboard"

    def filters(self) -> list[str]:
        """The page filters this chart's query takes."""
        taken = {p.name for p in self.recipe.params}
        return [name for name in FILTERS if name in taken]

    def arguments(self, given: dict[str, str], **extra: str) -> dict[str, str]:
        """The query's parameters: the filters it takes, the chart's fixed values, ``extra``."""
        taken = {p.name for p in self.recipe.params}
        chosen = {k: v for k, v in given.items() if k in taken and k in FILTERS}
        return self.recipe.arguments(chosen | self.fixed | extra)

    def kept(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The rows this chart draws of its query's answer."""
        dropped = set(self.only) | set(self.hide)
        return [
            {column: value for column, value in row.items() if column not in dropped}
            for row in rows
            if all(str(row.get(c)) == v for c, v in self.only.items())
        ]

    def command(self, arguments: dict[str, str]) -> str:
        """The same query as a ``footfall sql`` command line, to paste into a shell."""
        params = " ".join(f"-p {shlex.quote(f'{k}={v}')}" for k, v in arguments.items())
        if self.source == "cookbook":
            return f"footfall sql -q {self.query} {params}".strip()
        return f"footfall sql {shlex.quote(self.recipe.sql)} {params}".strip()


@dataclass(frozen=True)
class Page:
    id: str
    title: str
    charts: tuple[Chart, ...]
    live: bool = False

    def chart(self, chart_id: str) -> Chart:
        for chart in self.charts:
            if chart.id == chart_id:
                return chart
        raise KeyError(chart_id)


FUNNEL = ("viewed", "carted", "checked_out", "ordered", "repeated")

PAGES: tuple[Page, ...] = (
    Page(
        "overview",
        "Overview",
        (
            Chart(
                "totals",
                "In the period",
                "kpi",
                "overview",
                only={"grouping": "total"},
                hide=("day",),
            ),
            Chart("lag", "Live", "kpi", "overview_lag"),
            Chart(
                "daily",
                "Per day",
                "line",
                "overview",
                only={"grouping": "day"},
                x="day",
                y=("events", "visitors", "customers", "orders"),
            ),
            Chart(
                "revenue",
                "Revenue per day",
                "bar",
                "overview",
                only={"grouping": "day"},
                x="day",
                y=("revenue",),
            ),
        ),
        live=True,
    ),
    Page(
        "funnel",
        "Funnel",
        (
            Chart(
                "steps",
                "Product view → cart → checkout → order → repeat",
                "funnel",
                "funnel_steps",
                only={"grouping": "everyone"},
                y=FUNNEL,
            ),
            Chart(
                "channels",
                "Per first-touch channel",
                "bar",
                "funnel_steps",
                only={"grouping": "channel"},
                x="group_name",
                y=FUNNEL,
            ),
            Chart(
                "segments",
                "Per segment",
                "bar",
                "funnel_steps",
                only={"grouping": "segment"},
                x="group_name",
                y=FUNNEL,
            ),
            Chart("abandonment", "Cart abandonment", "kpi", "cart_abandonment"),
        ),
    ),
    Page(
        "journeys",
        "Journeys",
        (
            Chart("flow", "Stage moves in the period", "sankey", "journey_flow"),
            Chart(
                "time",
                "Time in stage (hours)",
                "bar",
                "journey_time_in_stage",
                x="stage",
                y=("median_hours", "mean_hours"),
            ),
            Chart(
                "timers",
                "Timer-made moves per day",
                "bar",
                "journey_timer_moves",
                x="day",
                y=("moves",),
                series="to_stage",
            ),
        ),
    ),
    Page(
        "segments",
        "Segments & personas",
        (
            Chart("sizes", "Members now", "bar", "segment_sizes", x="segment", y=("members",)),
            Chart(
                "size_over_time",
                "Members over time",
                "line",
                "segment_daily",
                x="day",
                y=("members",),
                series="segment",
            ),
            Chart(
                "moves",
                "Entering and leaving per day",
                "bar",
                "segment_daily",
                x="day",
                y=("entered", "exited"),
            ),
            Chart("aov", "Key figures per segment", "table", "aov_by_segment"),
            Chart("members", "Members", "table", "segment_member_figures", csv=True),
        ),
    ),
    Page(
        "rfm",
        "RFM & cohorts",
        (
            Chart(
                "grid",
                "RFM grid: customers per recency by frequency score",
                "heatmap",
                "rfm_grid",
                x="f",
                y=("r", "customers"),
            ),
            Chart(
                "cohorts",
                "Retention by first-order month (%)",
                "heatmap",
                "cohort_monthly",
                x="month_number",
                y=("cohort", "retained_pct"),
            ),
            Chart(
                "weekly",
                "Weekly activity retention (%)",
                "heatmap",
                "cohort_retention",
                x="week_number",
                y=("cohort", "retained_pct"),
            ),
            Chart(
                "heatmap",
                "Orders by weekday and hour (UTC)",
                "heatmap",
                "purchase_heatmap",
                x="hour",
                y=("weekday", "orders"),
            ),
        ),
    ),
    Page(
        "channels",
        "Channels & coupons",
        (
            Chart(
                "touch",
                "Revenue by first and last touch",
                "bar",
                "channel_revenue",
                x="channel",
                y=("revenue",),
                series="model",
            ),
            Chart(
                "landing",
                "Landing pages",
                "bar",
                "landing_pages",
                x="landing_path",
                y=("sessions", "visitors"),
            ),
            Chart(
                "coupons",
                "Revenue share by coupon",
                "pie",
                "coupon_revenue",
                x="coupon_code",
                y=("revenue",),
            ),
            Chart("coupon_table", "Coupons", "table", "coupon_revenue"),
        ),
    ),
    Page(
        "products",
        "Products",
        (
            Chart(
                "best",
                "Bestsellers (units)",
                "bar",
                "product_sales",
                x="product_id",
                y=("units", "views"),
            ),
            Chart(
                "slow",
                "Slow movers: viewed, seldom bought",
                "bar",
                "product_sales",
                {"slow": "1"},
                x="product_id",
                y=("views", "units"),
            ),
            Chart("viewed", "Viewed together (same session)", "table", "viewed_together"),
            Chart("bought", "Bought together (same order)", "table", "bought_together"),
            Chart(
                "searches",
                "Searches that led nowhere",
                "bar",
                "search_dead_ends",
                x="term",
                y=("dead_ends", "searches"),
            ),
        ),
    ),
    Page(
        "reviews",
        "Reviews",
        (
            Chart(
                "weekly",
                "Ratings per week",
                "line",
                "ratings_weekly",
                x="week",
                y=("mean_rating", "reviews", "low_ratings"),
            ),
            Chart(
                "words",
                "Words of low ratings",
                "bar",
                "low_rating_words",
                x="word",
                y=("mentions",),
            ),
            Chart("products", "Ratings per product", "table", "review_ratings"),
        ),
    ),
    Page(
        "experiments",
        "Experiments",
        (
            Chart("list", "Experiments", "table", "experiments"),
            Chart(
                "variants",
                "Conversion per variant, 95% interval",
                "ci",
                "ab_conversion",
                x="variant",
                y=("conversion_pct",),
            ),
        ),
    ),
    Page(
        "customer",
        "One customer",
        (
            Chart("profile", "Stored profile", "kpi", "customer_profile"),
            Chart("stages", "Stage history", "table", "customer_stages"),
            Chart("events", "Event timeline", "table", "customer_events"),
        ),
    ),
)


def page(page_id: str) -> Page:
    for found in PAGES:
        if found.id == page_id:
            return found
    raise KeyError(page_id)
