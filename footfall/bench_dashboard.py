"""``footfall bench dashboard``: how long each dashboard page takes on a million events.

The data is the demo's: a private stack (as ``footfall up`` runs it) takes the simulated
shoppers' events, so profiles, journeys and segments are the worker's own. The stack is then
stopped and its embedded store inflated to ``--events`` by copying every table with suffixed
ids (each copy is another set of shoppers with the same habits), doubling until the next copy
would pass the target. The store is then opened as the sink opens it (an engine process, reads
on their own channel) behind the sink's SQL endpoint, and the dashboard's own API asks for
every chart of every page through it, as a browser would, one chart after another.

Printed per page: the time through the dashboard and the endpoint (median of ``--repeats``),
the baseline of the same queries sent straight to the engine (no endpoint), the slowest chart,
and the issue's target (1 s at 1,000,000 events, 3 s at 10,000,000).
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from rich.console import Console
from rich.table import Table
from starlette.exceptions import StarletteDeprecationWarning

from base.config import BrokerKind
from base.sqlclient import SqlClient
from dashboard.app import create_app
from dashboard.catalog import PAGES, Chart
from dashboard.settings import DashboardSettings
from footfall.bench_broker import bench_broker, private_stack_settings
from footfall.demo.report import wait_until_queryable
from footfall.demo.sender import send_all
from footfall.demo.simulator import simulate
from footfall.stack import Stack, free_port, port_open
from sinks.clickhouse import Store
from sinks.engine import open_store, reads_of
from sinks.migrate import migrate_up
from sinks.query_api import query_router
from sinks.settings import SinkSettings

with warnings.catch_warnings():
    # Starlette warns on import that its test client will move to httpx2; the warning says
    # nothing to a ``footfall`` user, and the whole CLI imports this module.
    warnings.filterwarnings("ignore", category=StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

console = Console()
TOKEN = "bench-dashboard-token"
COPIED = {
    "events": ("anonymous_id", "customer_id", "session_id", "order_id"),
    "profiles": ("profile_id", "customer_id"),
    "journey_transitions": ("profile_id",),
    "segment_changes": ("profile_id",),
}
"""Per table, the ids a copy suffixes (an empty id stays empty); events also get new ids."""


def copy_statement(table: str, mark: str, limit: int | None = None) -> str:
    """``INSERT … SELECT`` that adds a copy of ``table`` with every id suffixed by ``mark``."""
    replaced = [f"if({c} = '', '', concat({c}, '{mark}')) AS {c}" for c in COPIED[table]]
    if table == "events":
        replaced.insert(0, "generateUUIDv4() AS event_id")
    tail = f" LIMIT {limit}" if limit is not None else ""
    return f"INSERT INTO {table} SELECT * REPLACE ({', '.join(replaced)}) FROM {table}{tail}"


def inflate(store: Store, target: int) -> int:
    """Copy every table until ``events`` holds about ``target`` rows; returns the count."""
    count = int(store.command("SELECT count() FROM events"))
    base = count
    round_ = 0
    while count < target:
        round_ += 1
        factor = min(count, target - count) / count
        for table in COPIED:
            rows = int(store.command(f"SELECT count() FROM {table}"))
            limit = None if factor >= 1 else max(1, int(rows * factor))
            store.command(copy_statement(table, f"~{round_}", limit))
        count = int(store.command("SELECT count() FROM events"))
        console.print(f"  copy {round_}: {count:,} events (from {base:,})")
    store.command("OPTIMIZE TABLE segment_membership FINAL")
    return count


def seed(data_dir: Path, kind: BrokerKind, shoppers: int) -> None:
    """Run the demo's shoppers through a private stack, and stop it."""
    settings = private_stack_settings(data_dir, kind, dashboard=False)
    sim = simulate(shoppers, seed=42, weeks=6)
    streams = [("demo-write-key", sim.browser_events), ("demo-secret-key", sim.server_events)]
    with Stack(settings) as stack:
        stack.start(lambda line: console.print(f"  {line}"))
        report = asyncio.run(send_all(settings.collector_url, streams))
        sql = SqlClient(settings.sink_url, settings.admin_token)
        try:
            wait_until_queryable(sql, report.accepted, timeout=300)
        finally:
            sql.close()
    console.print(f"  {report.accepted:,} events stored and profiled by the stack")


@contextmanager
def endpoint(store: Store) -> Iterator[str]:
    """The sink's SQL endpoint over ``store``, on a free port in this process."""
    app = FastAPI()
    app.include_router(query_router(SinkSettings(admin_token=TOKEN), lambda: reads_of(store)))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not port_open(port):
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def timed(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def bench_dashboard_command(
    events: int, shoppers: int, repeats: int, broker: BrokerKind | None
) -> None:
    """Every dashboard page's load time on --events demo-like events (embedded engine)."""
    kind = bench_broker(broker)
    with tempfile.TemporaryDirectory(prefix="footfall-bench-dashboard-") as tmp:
        data_dir = Path(tmp)
        console.print(f"Seeding: {shoppers} demo shoppers through a private stack ({kind.value})")
        seed(data_dir, kind, shoppers)
        store = open_store(f"chdb://{(data_dir / 'clickhouse').resolve()}")
        try:
            migrate_up(store)
            total = inflate(store, events)
            with endpoint(store) as url:
                measure(store, url, total, repeats)
        finally:
            store.close()


def measure(store: Store, url: str, total: int, repeats: int) -> None:
    settings = DashboardSettings(sql_url=url, worker_url="http://127.0.0.1:9")
    since = (datetime.now(UTC) - timedelta(days=90)).strftime("%Y-%m-%d %H:%M:%S")
    filters = {"site": "demo", "from": since, "segment": "*"}
    busiest = str(
        store.command("SELECT profile_id FROM profiles FINAL ORDER BY orders DESC LIMIT 1")
    )
    target = 1.0 if total <= 1_000_000 else 3.0
    view = Table(title=f"Dashboard pages on {total:,} events (embedded engine, machine shared)")
    for column in ("page", "charts", "dashboard s", "engine alone s", "slowest chart", "target s"):
        view.add_column(column, justify="left" if column in ("page", "slowest chart") else "right")
    for page in PAGES:
        extra = {"profile": busiest} if page.id == "customer" else {}
        per_chart: dict[str, list[float]] = {c.id: [] for c in page.charts}
        floors: list[float] = []
        for _ in range(repeats):
            # A fresh app each time: no answer kept from the load before (charts of one
            # load that share a query still share its answer, as in the browser).
            client = TestClient(create_app(settings), headers={"Authorization": f"Bearer {TOKEN}"})
            for chart in page.charts:
                path = f"/api/chart/{page.id}/{chart.id}"
                per_chart[chart.id].append(timed(partial(get_ok, client, path, filters | extra)))
            # Charts that share a query and its arguments share one answer: timed once.
            distinct = {(c.query, str(sorted(c.fixed.items()))): c for c in page.charts}
            floors.append(sum(engine_time(store, c, filters, extra) for c in distinct.values()))
        medians = {name: statistics.median(times) for name, times in per_chart.items()}
        page_s = sum(medians.values())
        slowest = max(medians, key=lambda name: medians[name])
        view.add_row(
            page.id,
            str(len(page.charts)),
            f"{page_s:.2f}",
            f"{statistics.median(floors):.2f}",
            f"{slowest} {medians[slowest]:.2f}",
            f"{target:.0f}" + ("" if page_s <= target else " (over)"),
        )
    console.print(view)


def get_ok(client: TestClient, path: str, params: dict[str, str]) -> None:
    client.get(path, params=params).raise_for_status()


def engine_time(
    store: Store, chart: Chart, filters: dict[str, str], extra: dict[str, str]
) -> float:
    """The chart's query straight on the engine (an experiment chart: its first experiment)."""
    more = dict(extra)
    if chart.query == "ab_conversion":
        more["experiment"] = "free_shipping_banner"
    arguments = chart.arguments(filters, **more)
    return timed(lambda: store.query(chart.recipe.sql, parameters=arguments))
