"""The ``footfall`` command: one entry point for the local stack, the demo and SQL."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from enum import StrEnum
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
import uvicorn
from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from base.config import BrokerKind
from base.cookbook import CookbookError, recipes
from base.cookbook import recipe as find_recipe
from base.lag import LagWatch
from base.sqlclient import QueryError, SqlClient
from dashboard.app import DashboardError, create_app
from dashboard.settings import DashboardSettings
from footfall.bench_broker import BenchBroker, bench_broker, describe
from footfall.bench_collector import run_bench as run_collector_bench
from footfall.bench_collector import share_of_raw
from footfall.bench_dashboard import bench_dashboard_command
from footfall.bench_processors import bench_processors_command
from footfall.bench_sink import bench_sink_command
from footfall.bench_stack import bench_stack_command
from footfall.bench_webhooks import run_bench as run_webhooks_bench
from footfall.demo.html import page
from footfall.demo.report import render, results_of, table, wait_until_queryable
from footfall.demo.sender import send_all
from footfall.demo.simulator import simulate
from footfall.privacy_cli import erase_command, erasure_status_command, export_command
from footfall.profiles_cli import identity_app, profile_command
from footfall.segments_cli import segments_app
from footfall.sql_target import sql_client
from footfall.stack import (
    Stack,
    StackError,
    StackSettings,
    StaleStateError,
    port_open,
    reset_data_dir,
)
from footfall.status import Endpoint, HealthWatch
from footfall.status_cli import status_command
from footfall.webhooks_cli import webhooks_app
from schemas.events import EVENT_MODELS
from sinks.clickhouse import StoreLocked, connect
from sinks.migrate import load_migrations, migrate_down, migrate_up, pending
from sinks.settings import SinkSettings
from stream_processors.settings import WorkerSettings
from webhooks.settings import WebhookSettings

app = typer.Typer(
    help="Footfall: real-time customer behaviour, journeys and segments for online stores.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()
err = Console(stderr=True)

DataDir = Annotated[Path, typer.Option(help="Where the stack keeps its data and logs.")]
Port = Annotated[int | None, typer.Option(help="Port (default from FOOTFALL_* settings).")]


class BrokerChoice(StrEnum):
    auto = "auto"
    kafka = "kafka"
    tansu = "tansu"


BrokerOption = Annotated[
    BrokerChoice | None,
    typer.Option(
        help="The local broker: kafka (Apache Kafka, keeps data across restarts), tansu "
        "(memory only: a restart empties it) or auto (Kafka where Java 17+ and its jars are "
        "found, else Tansu). Default: FOOTFALL_BROKER, else auto.",
        show_default=False,
    ),
]


def stack_settings(
    data_dir: Path | None = None, broker: BrokerChoice | None = None, **ports: int | None
) -> StackSettings:
    """The stack's settings: ``FOOTFALL_*`` values, overridden by the options given."""
    overrides: dict[str, object] = {k: v for k, v in ports.items() if v is not None}
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    if broker is not None:
        overrides["broker"] = broker.value
    return StackSettings(**overrides)  # type: ignore[arg-type]


def ports_in_use(stack: Stack) -> list[int]:
    """The stack's own ports that something already listens on (another stack, most likely).

    Checked before anything is started or reset: a second stack on the same ports would talk
    to the first one's broker, and ``--reset`` would empty a data dir still in use.
    """
    s = stack.settings
    ports = [s.collector_port, s.worker_port, s.sink_port, s.webhooks_port]
    if s.dashboard:
        ports.append(s.dashboard_port)
    if stack.broker is not None:
        ports.append(s.broker_port)
        if stack.broker_kind is BrokerKind.kafka:
            ports.append(s.broker_controller_port)
    return [port for port in ports if port_open(port)]


def terminate_on_sigterm() -> None:
    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def fail(message: str) -> typer.Exit:
    """One red line on stderr, never wrapped; the exit to raise after it."""
    err.print(message, style="red", soft_wrap=True, markup=False, highlight=False)
    return typer.Exit(1)


def new_stack(settings: StackSettings) -> Stack:
    """The stack, not started yet: its caller's ``finally`` can stop it whenever a signal
    comes (a ``footfall up`` stopped a moment after it started still stops its children)."""
    try:
        return Stack(settings)
    except StackError as exc:
        raise fail(f"The stack did not start: {exc}") from exc


def launched(stack: Stack) -> bool:
    return any(child.process is not None for child in stack.children)


def start_stack(stack: Stack, reset: bool = False, resumes: bool = True) -> None:
    """Start every process, after emptying the data dir (logs kept) when ``reset``.

    ``resumes``: a later start on this data dir goes on from it (``footfall up``), so say
    what the broker keeps; the demo empties its dir every time.
    """
    settings = stack.settings
    busy = ports_in_use(stack)
    if busy:
        raise fail(
            f"Port(s) {', '.join(map(str, busy))} already in use on 127.0.0.1 (is a stack "
            "running?); stop it, or choose other ports (see --help)"
        )
    if reset:
        reset_data_dir(settings.data_dir)
        console.print(f"Emptied {settings.data_dir} (logs kept).")
    with console.status("starting the stack…") as status:
        try:
            stack.start(status.update)
        except StaleStateError as exc:
            raise fail(str(exc)) from exc
        except StackError as exc:
            err.print(f"[red]The stack did not start:[/red] {exc}")
            err.print(f"Logs are in {settings.data_dir / 'logs'}.")
            raise typer.Exit(1) from exc
    console.print(f"Broker: {stack.broker_name}{persistence(stack) if resumes else ''}")
    for child in stack.children:
        console.print(f"  [green]●[/green] {child.name:<9} {child.listens}  (pid {child.pid})")


def persistence(stack: Stack) -> str:
    """What a restart keeps: said once at start, since it differs between the brokers."""
    if stack.broker is None:
        return ""
    if stack.broker_kind is BrokerKind.tansu:
        return " (memory storage: a restart needs --reset)"
    return f" (data kept across restarts in {stack.settings.data_dir / 'kafka'})"


@app.command()
def up(
    data_dir: Annotated[
        Path | None,
        typer.Option(
            help="Where the stack keeps its data and logs. Default: FOOTFALL_DATA_DIR, "
            "else .footfall.",
            show_default=False,
        ),
    ] = None,
    broker: BrokerOption = None,
    reset: Annotated[
        bool,
        typer.Option(
            "--reset",
            help="Delete everything stored in the data dir (broker data, events, profiles, "
            "worker tables, webhook state; the logs are kept) and start empty.",
        ),
    ] = False,
    collector_port: Port = None,
    broker_port: Port = None,
    broker_controller_port: Port = None,
    sink_port: Port = None,
    worker_port: Port = None,
    webhooks_port: Port = None,
    dashboard_port: Port = None,
) -> None:
    """Start the local stack (broker, collector, worker, ClickHouse sink, webhooks, dashboard)
    until Ctrl-C. On Apache Kafka a restart on the same data dir goes on where it stopped."""
    settings = stack_settings(
        data_dir,
        broker,
        collector_port=collector_port,
        broker_port=broker_port,
        broker_controller_port=broker_controller_port,
        sink_port=sink_port,
        worker_port=worker_port,
        webhooks_port=webhooks_port,
        dashboard_port=dashboard_port,
    )
    terminate_on_sigterm()
    stack = new_stack(settings)
    sql = sql_client(settings)
    try:
        start_stack(stack, reset)
        console.print(f'Demo shop: {settings.collector_url}/shop/   SQL: footfall sql "SELECT …"')
        started = time.monotonic()
        with (
            Live(console=console, refresh_per_second=1, transient=True) as live,
            stack_lag(settings) as lag,
            stack_health(settings) as health,
        ):
            while True:
                dead = stack.dead()
                if dead:
                    for child in dead:
                        err.print(f"[red]{child.name} exited[/red]; {stack.tail(child)}")
                    raise typer.Exit(1)
                live.update(status_line(sql, started, lag, health))
                time.sleep(1)
    except KeyboardInterrupt:
        console.print("stopping…")
    finally:
        sql.close()
        if launched(stack):
            stack.stop()
            console.print("stack stopped")


def status_line(
    sql: SqlClient, started: float, lag: LagWatch | None = None, health: HealthWatch | None = None
) -> str:
    try:
        events = sql.scalar("SELECT count() FROM events")
        profiles = sql.scalar("SELECT uniqExact(profile_id) FROM profiles")
        stored = f"{events:,} events, {profiles:,} profiles stored"
    except (QueryError, OSError) as exc:
        stored = f"store not answering ({exc})"
    behind = f" · {escape(lag.summary())}" if lag is not None else ""
    ready = "" if health is None else health.summary()
    shown = f" · [red]{escape(ready)}[/red]" if ready and ready != "all ready" else ""
    return (
        f"[dim]up {time.monotonic() - started:.0f}s · all processes running · {stored}"
        f"{behind}[/dim]{shown}"
    )


def consumer_groups(topic_prefix: str) -> dict[str, list[str]]:
    """The stack's consumer groups by process, named by each process's own settings: the
    children read the same ``FOOTFALL_*`` environment and TOML file as this command, and
    the stack's topic prefix (which scopes the default group names)."""

    webhooks = WebhookSettings(topic_prefix=topic_prefix)
    return {
        "worker": [WorkerSettings(topic_prefix=topic_prefix).app_id],
        "sink": [SinkSettings(topic_prefix=topic_prefix).group_id],
        "webhooks": [webhooks.group_id, webhooks.retry_group_id],
    }


def stack_health(settings: StackSettings) -> HealthWatch:
    """Each process's readiness for the status line (why not, when not), read on a thread."""
    urls = {
        "collector": settings.collector_url,
        "worker": settings.worker_url,
        "sink": settings.sink_url,
        "webhooks": settings.webhooks_url,
    }
    return HealthWatch([Endpoint(name, url) for name, url in urls.items()])


def stack_lag(settings: StackSettings) -> LagWatch:
    """Lag per process for the status line, read every few seconds on a thread of its own."""
    groups = consumer_groups(settings.topic_prefix)
    return LagWatch(settings.bootstrap, groups, topic_prefix=settings.topic_prefix)


@app.command()
def demo(
    shoppers: Annotated[int, typer.Option(help="Simulated shoppers.")] = 300,
    weeks: Annotated[int, typer.Option(help="Weeks of simulated history.")] = 6,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same shoppers).")] = 42,
    keep_running: Annotated[bool, typer.Option(help="Leave the stack running.")] = False,
    data_dir: Annotated[
        Path,
        typer.Option(
            help="The demo's own data dir, emptied at every start (logs kept); never the "
            "stack's: a dir with other data in it is refused."
        ),
    ] = Path(".footfall/demo"),
    broker: BrokerOption = None,
) -> None:
    """Start the stack on an empty data dir of its own, drive a synthetic storefront through
    the collector, print a report."""

    settings = stack_settings(data_dir, broker)
    claim_demo_dir(settings.data_dir)
    terminate_on_sigterm()
    sim = simulate(shoppers, seed=seed, weeks=weeks)
    console.print(
        f"Simulating {shoppers} shoppers over {weeks} weeks: {sim.total:,} events "
        f"({len(sim.server_events)} orders sent by the shop backend)."
    )
    stack = new_stack(settings)
    sql = sql_client(settings)
    try:
        start_stack(stack, resumes=False)
        started = time.monotonic()
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=console) as bar:
            sending = bar.add_task("sending events ", total=sim.total)
            report = asyncio.run(
                send_all(
                    settings.collector_url,
                    [
                        ("demo-write-key", sim.browser_events),
                        ("demo-secret-key", sim.server_events),
                    ],
                    on_progress=lambda n: bar.advance(sending, n),
                )
            )
            stored = bar.add_task("stored + profiled", total=report.accepted)
            wait_until_queryable(
                sql,
                report.accepted,
                on_progress=lambda p: bar.update(stored, completed=min(p.events, p.profile_events)),
            )
            try:  # every event is in: give the journey timers (abandonment, risk) their turn
                wait_until_queryable(sql, report.accepted, timeout=60, wait_for_timers=True)
            except TimeoutError as exc:  # a late timer leaves a stage move out, nothing else
                err.print(f"[yellow]Report made with journey timers still due:[/yellow] {exc}")
        if report.rejected:
            err.print(
                f"[yellow]{len(report.rejected)} events rejected:[/yellow] {report.rejected[:3]}"
            )
        results = results_of(sql, "demo")
        headline = render(results, console, report.accepted, time.monotonic() - started)
        html_report = settings.data_dir / "report.html"
        html_report.write_text(page(headline, results), encoding="utf-8")
        console.print(f"Charts: {html_report.resolve().as_uri()}")
        if keep_running and settings.dashboard:
            console.print(
                f"Dashboard: {settings.dashboard_url}/ (sign in with the admin token, "
                "FOOTFALL_ADMIN_TOKEN)"
            )
        if keep_running:
            console.print("The stack keeps running; Ctrl-C stops it.")
            while not stack.dead():
                time.sleep(1)
    except KeyboardInterrupt:
        console.print("stopping…")
    except TimeoutError as exc:
        err.print(f"[red]The data did not arrive:[/red] {exc}. Logs: {settings.data_dir}/logs")
        raise typer.Exit(1) from exc
    finally:
        stack.stop()
        sql.close()


DEMO_MARK = "footfall-demo"
"""A file in the demo's data dir: the demo empties only a dir that has it, or nothing at all."""


def claim_demo_dir(data_dir: Path) -> None:
    """Empty the demo's data dir (logs kept) so every demo starts from nothing, on any broker.

    A dir holding anything but logs and no mark is someone's stack data (``--data-dir
    .footfall`` by mistake): refused, never deleted.
    """
    mark = data_dir / DEMO_MARK
    held = [e for e in data_dir.iterdir() if e.name != "logs"] if data_dir.is_dir() else []
    if held and not mark.exists():
        raise fail(
            f"{data_dir} holds data that is not the demo's ({held[0].name}, …); give the "
            "demo a dir of its own with --data-dir (it is emptied at every start)"
        )
    reset_data_dir(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    mark.write_text("The data dir of `footfall demo`: emptied at every demo start.\n")


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"
    tsv = "tsv"


@app.command()
def sql(
    query: Annotated[
        str | None, typer.Argument(help="A read-only SQL query (SELECT, WITH, SHOW, …).")
    ] = None,
    recipe: Annotated[
        str | None, typer.Option("--query", "-q", help="Run a cookbook query by name.")
    ] = None,
    params: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="Query parameter name=value.")
    ] = None,
    site: Annotated[str | None, typer.Option(help="Shorthand for --param site=…")] = None,
    since: Annotated[str | None, typer.Option("--from", help="Shorthand: --param from=…")] = None,
    until: Annotated[str | None, typer.Option("--to", help="Shorthand for --param to=…")] = None,
    list_recipes: Annotated[bool, typer.Option("--list", help="List the cookbook.")] = False,
    format: Annotated[OutputFormat, typer.Option("--format", "-f")] = OutputFormat.table,
    url: Annotated[
        str | None, typer.Option(help="SQL endpoint; default the local sink or CLICKHOUSE_URL.")
    ] = None,
) -> None:
    """Run SQL or a cookbook query against the embedded store or a ClickHouse server."""
    if list_recipes:
        for item in recipes().values():
            console.print(f"[bold]{item.name}[/bold]  {item.description}")
            console.print(f"    params: {item.usage()}", style="dim")
        return
    given = dict(p.split("=", 1) for p in params or [] if "=" in p)
    shorthand = {"site": site, "from": since, "to": until}
    given |= {k: v for k, v in shorthand.items() if v is not None}
    try:
        if recipe is not None:
            chosen = find_recipe(recipe)
            query, given = chosen.sql, chosen.arguments(given)
    except CookbookError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    if query is None:
        err.print("Give a SQL query, or --query NAME (see --list).")
        raise typer.Exit(2)
    settings = StackSettings()
    client = sql_client(settings, url)
    try:
        if format is OutputFormat.table:
            console.print(table("", client.rows(query, given)))
        else:
            fmt = {"csv": "CSVWithNames", "json": "JSONEachRow", "tsv": "TabSeparatedWithNames"}
            sys.stdout.write(client.raw(query, fmt[format.value], given).decode())
    except QueryError as exc:
        err.print(f"[red]ClickHouse refused the query:[/red] {exc}")
        raise typer.Exit(2) from exc
    except OSError as exc:
        err.print(
            f"[red]No SQL endpoint at {client.url}[/red] ({exc}). Start the stack with "
            "`footfall up`, or set CLICKHOUSE_URL to a ClickHouse server."
        )
        raise typer.Exit(2) from exc
    finally:
        client.close()


@app.command()
def dashboard(
    port: Annotated[int | None, typer.Option(help="Port to listen on (default 8130).")] = None,
    sql_url: Annotated[
        str | None, typer.Option(help="The sink's SQL endpoint; default the local stack's.")
    ] = None,
    worker_url: Annotated[
        str | None, typer.Option(help="A stream worker's web port; default the local stack's.")
    ] = None,
) -> None:
    """Serve the dashboard in the foreground, reading a running stack (`footfall up` starts
    one of its own): pages of charts, each with the SQL behind it."""

    stack = StackSettings()
    settings = DashboardSettings(
        port=port or stack.dashboard_port,
        sql_url=sql_url or stack.sink_url,
        worker_url=worker_url or stack.worker_url,
    )
    try:
        served = create_app(settings)
    except DashboardError as exc:
        raise fail(str(exc)) from exc
    if port_open(settings.port):
        raise fail(
            f"Port {settings.port} is in use (is `footfall up` running? it serves the dashboard "
            f"at {stack.dashboard_url}); choose another with --port"
        )
    console.print(f"Dashboard: http://{settings.host}:{settings.port}/ reading {settings.sql_url}")
    uvicorn.run(served, host=settings.host, port=settings.port, log_level="warning")


class MigrateAction(StrEnum):
    status = "status"
    up = "up"
    down = "down"


@app.command()
def migrate(
    action: Annotated[MigrateAction, typer.Argument()] = MigrateAction.status,
    dry_run: Annotated[bool, typer.Option(help="Print the SQL instead of running it.")] = False,
    steps: Annotated[int, typer.Option(help="How many migrations `down` undoes.")] = 1,
    dsn: Annotated[str | None, typer.Option(help="ClickHouse DSN (default the sink's).")] = None,
) -> None:
    """Show, apply or undo ClickHouse migrations (the sink applies them on start too)."""
    target = dsn or SinkSettings().clickhouse_url
    migrations = load_migrations()
    if dry_run and action is not MigrateAction.status:
        chosen = migrations if action is MigrateAction.up else list(reversed(migrations))[:steps]
        for migration in chosen:
            console.print(f"-- {migration.version:04d}_{migration.name} ({action.value})")
            statements = migration.up if action is MigrateAction.up else migration.down
            console.print(";\n".join(statements) + ";", markup=False)
        return
    try:
        client = connect(target)
    except StoreLocked as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    if action is MigrateAction.up:
        done = migrate_up(client)
        console.print(f"applied {len(done)} migration(s)")
    elif action is MigrateAction.down:
        done = migrate_down(client, steps)
        console.print(f"undid {len(done)} migration(s)")
    waiting = {m.version for m in pending(client, migrations)}
    for migration in migrations:
        state = "pending" if migration.version in waiting else "applied"
        console.print(f"{migration.version:04d}_{migration.name}: {state}")


app.add_typer(webhooks_app, name="webhooks")
app.add_typer(segments_app, name="segments")
app.add_typer(identity_app, name="identity")
app.command("profile")(profile_command)
app.command("erase")(erase_command)
app.command("erasure")(erasure_status_command)
app.command("export")(export_command)
app.command("status")(status_command)
bench_app = typer.Typer(
    help="Benchmarks, each printed next to a baseline measured in the same run.",
    no_args_is_help=True,
)
app.add_typer(bench_app, name="bench")
bench_app.command("processors")(bench_processors_command)
bench_app.command("sink")(bench_sink_command)
bench_app.command("stack")(bench_stack_command)


@bench_app.command("dashboard")
def bench_dashboard(
    events: Annotated[int, typer.Option(help="Events to measure on.")] = 1_000_000,
    shoppers: Annotated[int, typer.Option(help="Demo shoppers sent through the stack.")] = 300,
    repeats: Annotated[int, typer.Option(help="Loads of every page; the median is shown.")] = 3,
    broker: BenchBroker = None,
) -> None:
    """Every dashboard page's load time on --events demo-like events (embedded engine)."""
    bench_dashboard_command(events, shoppers, repeats, broker)


@bench_app.command("webhooks")
def bench_webhooks(
    deliveries: Annotated[int, typer.Option(help="Orders sent for the throughput run.")] = 2000,
    lag_samples: Annotated[int, typer.Option(help="Orders sent one at a time for lag.")] = 100,
    concurrency: Annotated[int, typer.Option(help="Dispatcher slots per endpoint.")] = 4,
    broker: BenchBroker = None,
) -> None:
    """Webhook deliveries/s to a local receiver, and collector-to-webhook lag p50/p95."""
    kind = bench_broker(broker)
    with console.status("benchmarking webhooks…") as status:
        report = run_webhooks_bench(
            deliveries, lag_samples, concurrency, on_progress=status.update, kind=kind
        )
    console.print(describe(report.broker))
    console.print(
        f"deliveries/s     {report.deliveries_per_s:8.0f}  ({report.deliveries} orders, "
        f"collector → Kafka → dispatcher → receiver, {concurrency} slots)"
    )
    console.print(
        f"baseline/s       {report.baseline_per_s:8.0f}  (same receiver, direct POSTs, "
        f"{concurrency} concurrent)"
    )
    console.print(
        f"lag p50 / p95    {report.lag_p50_ms:6.0f} / {report.lag_p95_ms:.0f} ms  "
        f"(collector POST → webhook arrival, {report.lag_samples} orders one at a time)"
    )


@bench_app.command("collector")
def bench_collector(
    duration: Annotated[float, typer.Option(help="Seconds per measurement.")] = 3.0,
    concurrency: Annotated[int, typer.Option(help="Requests in flight.")] = 16,
    broker: BenchBroker = None,
) -> None:
    """Collector events/s and p50/p99 latency at batch 1/20/100 with 1 and 2 uvicorn workers,
    next to a raw aiokafka producer sending the same events to the same broker."""

    kind = bench_broker(broker)
    with console.status("benchmarking the collector…") as status:
        facts, cells = run_collector_bench(
            concurrency=concurrency,
            duration_s=duration,
            on_progress=status.update,
            broker_kind=kind,
            heap_mb=StackSettings().kafka_heap_mb,
        )
    console.print(describe(facts))
    table = Table(title=f"collector vs raw producer ({concurrency} in flight, {duration:g} s each)")
    for column in ("sender", "batch", "events/s", "p50 ms", "p99 ms", "errors", "of raw"):
        table.add_column(column, justify="left" if column == "sender" else "right")
    for cell in cells:
        share = share_of_raw(cells, cell)
        table.add_row(
            cell.label,
            str(cell.batch),
            f"{cell.events_per_s:,.0f}",
            f"{cell.p50_ms:.1f}",
            f"{cell.p99_ms:.1f}",
            str(cell.errors),
            "" if share is None or cell.label.startswith("raw") else f"{share:.0%}",
        )
    console.print(table)


@app.command()
def schemas(
    out: Annotated[
        Path | None, typer.Option(help="Write one <type>.schema.json per event here.")
    ] = None,
) -> None:
    """JSON Schema of every event type (to stdout as one object, or one file per type)."""
    exported = {name: model.model_json_schema() for name, model in EVENT_MODELS.items()}
    if out is None:
        console.print_json(json.dumps(exported))
        return
    out.mkdir(parents=True, exist_ok=True)
    for name, schema in exported.items():
        (out / f"{name}.schema.json").write_text(json.dumps(schema, indent=2) + "\n")
    console.print(f"wrote {len(exported)} schemas to {out}")


if __name__ == "__main__":
    app()
