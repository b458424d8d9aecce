"""Running a page's charts through the SQL endpoint, as the visitor's token allows."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from dashboard.answers import KeptSql
from dashboard.catalog import Chart, Page
from dashboard.stats import wilson_interval


@dataclass(frozen=True)
class ChartData:
    """What the page draws for one chart, with the query behind it."""

    id: str
    title: str
    kind: str
    x: str
    y: tuple[str, ...]
    series: str
    csv: bool
    source: str
    query: str
    filters: list[str]
    sql: str
    params: dict[str, str]
    command: str
    rows: list[dict[str, Any]]

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def chart_data(chart: Chart, rows: list[dict[str, Any]], arguments: dict[str, str]) -> ChartData:
    return ChartData(
        id=chart.id,
        title=chart.title,
        kind=chart.kind,
        x=chart.x,
        y=chart.y,
        series=chart.series,
        csv=chart.csv,
        source=chart.source,
        query=chart.query,
        filters=chart.filters(),
        sql=chart.recipe.sql,
        params=arguments,
        command=chart.command(arguments),
        rows=rows,
    )


def with_interval(row: dict[str, Any]) -> dict[str, Any]:
    """An experiment variant's row with the 95% interval of its conversion, in percent."""
    low, high = wilson_interval(int(row["converted"]), int(row["exposed_people"]))
    return row | {"ci_low_pct": round(100 * low, 1), "ci_high_pct": round(100 * high, 1)}


def read_chart(
    sql: KeptSql, chart: Chart, filters: dict[str, str], **extra: str
) -> list[ChartData]:
    """One chart's data; an experiment chart gives one per experiment of the period."""
    if chart.query == "ab_conversion":
        experiments = [str(r["experiment"]) for r in read_rows(sql, "experiments", filters)]
        found = []
        for experiment in experiments:
            arguments = chart.arguments(filters, experiment=experiment)
            rows = [with_interval(r) for r in sql.rows(chart.recipe.sql, arguments)]
            data = chart_data(chart, rows, arguments)
            found.append(
                ChartData(
                    **(
                        asdict(data)
                        | {
                            "id": f"{chart.id}-{experiment}",
                            "title": f"{chart.title}: {experiment}",
                        }
                    )
                )
            )
        return found
    arguments = chart.arguments(filters, **extra)
    return [chart_data(chart, chart.kept(sql.rows(chart.recipe.sql, arguments)), arguments)]


def read_rows(
    sql: KeptSql, query: str, filters: dict[str, str], **extra: str
) -> list[dict[str, Any]]:
    """The rows of a query of the catalogue that no chart draws (a list to choose from)."""
    chart = Chart(query, query, "table", query)
    return sql.rows(chart.recipe.sql, chart.arguments(filters, **extra))


def read_page(sql: KeptSql, page: Page, filters: dict[str, str], **extra: str) -> list[ChartData]:
    return [data for chart in page.charts for data in read_chart(sql, chart, filters, **extra)]
