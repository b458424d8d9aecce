"""``footfall status``: health, lag, throughput and the newest row's age in one refreshing
screen, from the processes' own ``/readyz`` and ``/metrics`` (the local stack's by default; a
production deployment's with ``--collector-url`` … and ``--token``)."""

from __future__ import annotations

import time
from typing import Annotated

import httpx
import typer
from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from footfall.stack import StackSettings
from footfall.status import Endpoint, Figures, ProcessReading, figures, read_process

console = Console()


def endpoints(
    collector: str | None,
    worker: str | None,
    sink: str | None,
    webhooks: str | None,
    token: str | None,
) -> list[Endpoint]:
    """The four processes, at the URLs given or the local stack's (``FOOTFALL_*`` ports);
    the local stack's settings are read only when something is missing."""
    given = (collector, worker, sink, webhooks, token)
    local = StackSettings() if None in given else None

    def pick(value: str | None, attribute: str) -> str:
        return value if value is not None else str(getattr(local, attribute))

    return [
        Endpoint("collector", pick(collector, "collector_url")),
        Endpoint("worker", pick(worker, "worker_url")),
        Endpoint("sink", pick(sink, "sink_url")),
        Endpoint("webhooks", pick(webhooks, "webhooks_url"), pick(token, "admin_token")),
    ]


def seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}s"


def screen(readings: list[ProcessReading], shown: Figures) -> Group:
    """Pure. The screen: one row per process, then lag, rates and ages."""
    health = Table("process", "ready", "reasons", title="health", title_justify="left")
    for reading in readings:
        mark = {True: "[green]ready[/]", False: "[red]not ready[/]", None: "[red]no answer[/]"}
        health.add_row(reading.name, mark[reading.ready], escape("; ".join(reading.problems)))
    lag = Table("consumer group", "lag (offsets)", title="lag", title_justify="left")
    for group, behind in sorted(shown.lag.items()):
        lag.add_row(group, f"{behind:,.0f}")
    flow = Table("throughput", "per second", title="throughput", title_justify="left")
    for title, rate in shown.rates.items():
        flow.add_row(title, "-" if rate is None else f"{rate:,.1f}")
    ages = Table("freshness", "", title="store", title_justify="left")
    ages.add_row("newest stored event received", seconds(shown.newest_event_age_s) + " ago")
    ages.add_row("last insert into events", seconds(shown.last_insert_age_s) + " ago")
    return Group(health, lag, flow, ages)


Url = Annotated[
    str | None,
    typer.Option(help="Base URL of the process. Default: the local stack's (FOOTFALL_*_PORT)."),
]


def status_command(
    collector_url: Url = None,
    worker_url: Url = None,
    sink_url: Url = None,
    webhooks_url: Url = None,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="FOOTFALL_ADMIN_TOKEN",
            help="Admin token: the webhook dispatcher's /metrics needs it. Default: "
            "FOOTFALL_ADMIN_TOKEN, else the local stack's.",
            show_default=False,
        ),
    ] = None,
    interval: Annotated[float, typer.Option(min=0.5, help="Seconds between refreshes.")] = 2.0,
    once: Annotated[bool, typer.Option("--once", help="Print one reading and exit.")] = False,
) -> None:
    """Health (ready or why not), lag per consumer group, throughput and the newest row's
    age of a running stack, refreshing until Ctrl-C. Exit status 1 with --once when a
    process is not ready."""
    targets = endpoints(collector_url, worker_url, sink_url, webhooks_url, token)
    previous: dict[str, ProcessReading] | None = None
    with httpx.Client(timeout=3.0) as http:
        readings = [read_process(http, target) for target in targets]
        if once:
            time.sleep(min(interval, 1.0))  # a second reading gives the rates
            previous = {r.name: r for r in readings}
            readings = [read_process(http, target) for target in targets]
            console.print(screen(readings, figures(previous, {r.name: r for r in readings})))
            raise typer.Exit(0 if all(r.ready for r in readings) else 1)
        with Live(console=console, refresh_per_second=1) as live:
            try:
                while True:
                    current = {r.name: r for r in readings}
                    live.update(screen(readings, figures(previous, current)))
                    previous = current
                    time.sleep(interval)
                    readings = [read_process(http, target) for target in targets]
            except KeyboardInterrupt:
                pass
