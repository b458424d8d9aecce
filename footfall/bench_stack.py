"""``footfall bench stack``: the highest event rate the whole local stack keeps up with, and
how fresh the data is at half that rate.

The stack (broker, collector, worker, ClickHouse sink, webhook dispatcher without
subscriptions) runs as ``footfall up`` runs it, on a private data dir and free ports. Load is
offered open-loop (:mod:`footfall.bench_load`): batches of ``--batch`` events are POSTed to the
collector on a fixed schedule whatever the answers take, so a slow stack is not spared load (as
a closed loop would spare it). While it runs, the lag of every consumer group is read from the
broker and the rows in ClickHouse ``events`` are counted against the events the collector
acknowledged (:mod:`footfall.bench_backlog`); :mod:`footfall.steady_rate` decides whether the
stack kept up and which rate to try next. The rate found is then held for ``--window`` seconds
(120 by default) before it is reported.

At half that rate, marker events measure two latencies from the collector's 2xx: to the row's
``inserted_at`` in ClickHouse (the engine's clock when it took the insert) and to the live
profile lookup answering for the marker's new customer (what ``footfall profile`` reads).
The load generator shares the machine's cores with the stack.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.table import Table

from base.config import BrokerKind
from base.sqlclient import SqlClient
from footfall.bench_backlog import BacklogUnreadable, Watch, backlog_text
from footfall.bench_broker import (
    BenchBroker,
    BrokerFacts,
    bench_broker,
    broker_facts,
    describe,
    private_stack_settings,
)
from footfall.bench_load import (
    MARKER_PREFIX,
    MAX_IN_FLIGHT,
    SHOPPERS,
    SITE,
    USER_AGENT,
    Ledger,
    marker_event,
    offer,
    post,
)
from footfall.bench_processors import live_after, percentile
from footfall.stack import Stack, StackError, StackSettings
from footfall.steady_rate import LagSample, Limits, Trial, bounds, next_rate, rounded, verdict
from stream_processors.settings import WorkerSettings

Say = Callable[[str], None]
MAX_CONFIRMATIONS = 2
"""Holds of ``--window`` seconds at most: a failed one moves the search down once more."""
PROBE_PAUSE_S = 0.2
PROBE_POLL_S = 0.01
PROBE_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class WindowResult:
    phase: str
    rate: int
    seconds: float
    sent_per_s: float
    kept_up: bool
    reasons: tuple[str, ...]
    first_half: dict[str, int]
    second_half: dict[str, int]
    end: dict[str, int]


async def hold_rate(
    client: httpx.AsyncClient,
    watch: Watch,
    rate: int,
    batch: int,
    seconds: float,
    phase: str,
    limits: Limits,
    say: Say,
) -> WindowResult:
    """Offer ``rate`` for ``seconds`` while sampling the backlogs; the verdict on it."""
    before = replace(watch.ledger)
    sender = asyncio.create_task(offer(client, rate, batch, seconds, watch.ledger))
    interval = min(max(seconds / 30, 0.5), 2.0)
    samples: list[LagSample] = []
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        await asyncio.sleep(max(0.0, started + (len(samples) + 1) * interval - time.monotonic()))
        lags = await watch.read()
        at = time.monotonic() - started
        if lags is not None and at <= seconds + interval:
            samples.append(LagSample(at, lags))
        say(f"{phase} at {rate:,} events/s: {at:.0f}/{seconds:.0f} s · {backlog_text(lags)}")
    await sender
    ledger = watch.ledger
    sent = ledger.sent_events - before.sent_events
    failed = ledger.errors - before.errors + ledger.missed - before.missed
    judged = verdict(samples, rate, seconds, sent, failed, limits)
    return WindowResult(
        phase,
        rate,
        seconds,
        sent / seconds,
        judged.kept_up,
        judged.reasons,
        dict(judged.first_half),
        dict(judged.second_half),
        dict(judged.end),
    )


@dataclass(frozen=True)
class Options:
    window_s: float = 120.0
    step_window_s: float = 30.0
    budget_s: float = 900.0
    start_rate: int = 100
    max_rate: int = 20_000
    batch: int = 50
    latency_window_s: float = 60.0
    limits: Limits = field(default_factory=Limits)


async def search(
    client: httpx.AsyncClient, watch: Watch, options: Options, say: Say, done: Say
) -> tuple[list[WindowResult], int | None]:
    """Double, then bisect, within ``budget_s``; then hold the rate found for ``window_s``.

    ``done`` hears one line per window as it ends. Returns every window run and the rate
    confirmed (None when none was)."""
    results: list[WindowResult] = []
    deadline = time.monotonic() + options.budget_s
    confirmations = 0
    for _ in range(100):  # each turn runs a window; the budget ends it much sooner
        trials = [Trial(r.rate, r.kept_up) for r in results]
        rate = next_rate(trials, options.start_rate, options.max_rate)
        if rate is not None and time.monotonic() + options.step_window_s < deadline:
            phase, seconds = "search", options.step_window_s
        else:
            found, _ = bounds(trials)
            if found is None or confirmations >= MAX_CONFIRMATIONS:
                return results, None
            confirmations += 1
            phase, rate, seconds = "confirm", found, options.window_s
        await watch.drain(max(options.step_window_s * 3, 60.0), say)
        result = await hold_rate(
            client, watch, rate, options.batch, seconds, phase, options.limits, say
        )
        results.append(result)
        done(window_line(result))
        if phase == "confirm" and result.kept_up:
            return results, rate
    return results, None


@dataclass(frozen=True)
class Latencies:
    rate: int
    to_store_s: list[float]
    to_profile_s: list[float]
    markers: int


async def freshness(
    client: httpx.AsyncClient, watch: Watch, settings: StackSettings, rate: int, options: Options
) -> Latencies:
    """Markers under a load of ``rate``: 2xx → ClickHouse row, and 2xx → live profile.

    One marker at a time, the next ``PROBE_PAUSE_S`` after the last was seen live: several
    markers polling at once would load the worker's web server (on the worker's own event
    loop) and lengthen the very latency they measure.
    """
    acked: dict[str, float] = {}  # marker event id → wall-clock time of its 2xx
    to_profile: list[float] = []
    sender = asyncio.create_task(
        offer(client, rate, options.batch, options.latency_window_s, watch.ledger)
    )
    deadline = time.monotonic() + options.latency_window_s - PROBE_PAUSE_S
    while time.monotonic() < deadline:
        await asyncio.sleep(PROBE_PAUSE_S)
        profile_id = f"{MARKER_PREFIX}{uuid.uuid4().hex[:12]}"
        marker = marker_event(profile_id)
        if not await post(client, [marker], watch.ledger):
            continue
        wall, since = time.time(), time.monotonic()
        acked[marker["event_id"]] = wall
        seen = await live_after(
            client, settings.worker_url, SITE, profile_id, since, PROBE_TIMEOUT_S, PROBE_POLL_S
        )
        if seen is not None:
            to_profile.append(seen)
    await sender
    inserted: dict[str, float] = {}
    for _ in range(int(PROBE_TIMEOUT_S)):  # the last markers may still be on their way
        inserted = await asyncio.to_thread(inserted_at, watch.sql, list(acked))
        if len(inserted) == len(acked):
            break
        await asyncio.sleep(1.0)
    to_store = [inserted[i] - acked[i] for i in acked if i in inserted]
    return Latencies(rate, to_store, to_profile, len(acked))


def inserted_at(sql: SqlClient, event_ids: list[str]) -> dict[str, float]:
    """When ClickHouse took each marker's row (its ``inserted_at``, epoch seconds).

    Markers are told by their ids' prefix (:data:`MARKER_PREFIX`), so no list of ids has to
    travel in the query."""
    rows = sql.rows(
        "SELECT toString(event_id) AS id, toUnixTimestamp64Milli(inserted_at) AS ms "
        f"FROM events WHERE startsWith(anonymous_id, '{MARKER_PREFIX}')"
    )
    wanted = set(event_ids)
    return {row["id"]: int(row["ms"]) / 1000 for row in rows if row["id"] in wanted}


@dataclass(frozen=True)
class StackReport:
    broker: BrokerFacts
    options: Options
    windows: list[WindowResult]
    confirmed: int | None
    latencies: Latencies | None


async def measure(settings: StackSettings, options: Options, say: Say, done: Say) -> StackReport:
    """Search, confirm, then measure freshness at half the rate, on a running stack."""
    ledger = Ledger()
    sql = SqlClient(settings.sink_url, settings.admin_token, timeout=10.0)
    watch = Watch(settings, ledger, sql)
    headers = {"User-Agent": USER_AGENT}
    limits = httpx.Limits(max_connections=MAX_IN_FLIGHT + 8)
    try:
        async with httpx.AsyncClient(
            base_url=settings.collector_url, headers=headers, limits=limits, timeout=30
        ) as client:
            say("warming up: one event through every process")
            warm = f"warm-{uuid.uuid4().hex[:8]}"
            await post(client, [marker_event(warm)], ledger)
            await live_after(client, settings.worker_url, SITE, warm, time.monotonic(), 120, 0.1)
            await watch.drain(120.0, say)
            windows, confirmed = await search(client, watch, options, say, done)
            latencies = None
            base = confirmed or best_window(windows)
            if base is not None:
                half = rounded(base / 2)
                await watch.drain(120.0, say)
                say(f"freshness at {half:,} events/s for {options.latency_window_s:.0f} s")
                latencies = await freshness(client, watch, settings, half, options)
    finally:
        await watch.close()
        sql.close()
    batch = WorkerSettings(broker_kind=settings.broker_kind).producer_batch_limit
    facts = broker_facts(settings.broker_kind, settings.partitions, settings.kafka_heap_mb, batch)
    return StackReport(facts, options, windows, confirmed, latencies)


def run(kind: BrokerKind, options: Options, say: Say, done: Say = print) -> StackReport:
    """Start a private stack of ``kind``, measure, stop every process by its PID.

    ``say`` hears progress, ``done`` each result as it comes.

    The data dir is removed after a good run and kept (with its logs) after a failure.
    """
    data_dir = Path(tempfile.mkdtemp(prefix="footfall-bench-stack-"))
    settings = private_stack_settings(data_dir, kind, start_timeout_s=180.0)
    stack = Stack(settings)
    try:
        stack.start(say)
        report = asyncio.run(measure(settings, options, say, done))
    except BaseException:
        done(f"logs kept in {data_dir / 'logs'}")
        raise
    finally:
        say("stopping the stack")
        stack.stop()
    shutil.rmtree(data_dir, ignore_errors=True)
    return report


def best_window(windows: list[WindowResult]) -> int | None:
    """The highest rate any window kept up with: the freshness load when none was confirmed."""
    return max((w.rate for w in windows if w.kept_up), default=None)


def window_line(w: WindowResult) -> str:
    verdict_text = "kept up" if w.kept_up else "not kept up: " + "; ".join(w.reasons)
    backlog = backlog_text(w.end)
    return f"{w.phase} {w.rate:,} events/s for {w.seconds:.0f} s: {verdict_text} (end: {backlog})"


def lag_cell(result: WindowResult, name: str) -> str:
    """``first-half median → second-half median (end)`` of one backlog."""
    first, second = result.first_half.get(name), result.second_half.get(name)
    if first is None or second is None:
        return "-"
    return f"{first:,}→{second:,} ({result.end.get(name, 0):,})"


def print_report(report: StackReport, console: Console) -> None:
    o = report.options
    names = ["worker", "sink", "webhooks", "store"]
    steps = Table(title="offered load · backlog: 1st-half median → 2nd-half median (last)")
    for column in ["", "phase", "events/s", "sent/s", "s", *names, "kept up"]:
        steps.add_column(column, justify="left" if column in ("phase", "kept up") else "right")
    why = []
    for n, w in enumerate(report.windows, 1):
        steps.add_row(
            str(n),
            w.phase,
            f"{w.rate:,}",
            f"{w.sent_per_s:,.0f}",
            f"{w.seconds:.0f}",
            *(lag_cell(w, name) for name in names),
            "yes" if w.kept_up else "no",
        )
        if not w.kept_up:
            why.append(f"{n}: " + "; ".join(w.reasons))
    console.print(steps)
    for line in why:
        console.print(f"  {line}", highlight=False)
    summary = Table(title="footfall bench stack", show_header=False)
    summary.add_column("", justify="left")
    summary.add_column("", justify="left")
    if report.confirmed is not None:
        rate = f"{report.confirmed:,} events/s (held {o.window_s:.0f} s)"
    else:
        best = best_window(report.windows)
        shorter = f"; kept up with {best:,} in a shorter window" if best else ""
        rate = f"none confirmed over {o.window_s:.0f} s{shorter}"
    summary.add_row("highest steady rate", rate)
    lat = report.latencies
    if lat is not None:
        at = f"at {lat.rate:,} events/s"
        summary.add_row(f"2xx → ClickHouse row {at}", quantiles(lat.to_store_s, lat.markers))
        summary.add_row(f"2xx → live profile {at}", quantiles(lat.to_profile_s, lat.markers))
    summary.add_row("broker", describe(report.broker))
    summary.add_row(
        "load",
        f"open loop, batches of {o.batch}, {SHOPPERS:,} browsers, search windows "
        f"{o.step_window_s:.0f} s within {o.budget_s:.0f} s, from {o.start_rate:,} events/s",
    )
    summary.add_row(
        "kept up",
        f"after the opening {o.limits.settle_share:.0%} of a window, no backlog grows by more "
        f"than {o.limits.growth_s:g} s of load from the 1st half to the 2nd, each ends under "
        f"{o.limits.end_lag_s:g} s of load, ≥ {o.limits.min_sent_share:.0%} of the load "
        "sent, no failed request (backlogs: consumer lag in offsets; store = acknowledged "
        "events not yet in ClickHouse)",
    )
    console.print(summary)


def quantiles(values: list[float], markers: int) -> str:
    if not values:
        return f"no figure (0 of {markers} markers arrived)"
    p50, p95 = (1000 * percentile(values, q) for q in (0.5, 0.95))
    return f"p50 {p50:,.0f} ms · p95 {p95:,.0f} ms ({len(values)} of {markers} markers)"


def bench_stack_command(
    broker: BenchBroker = None,
    window: Annotated[
        float, typer.Option(help="Seconds the rate found is held to confirm it.")
    ] = 120.0,
    step_window: Annotated[float, typer.Option(help="Seconds of each search step.")] = 30.0,
    budget: Annotated[float, typer.Option(help="Seconds the search may take in all.")] = 900.0,
    start_rate: Annotated[int, typer.Option(help="First rate tried (events/s).")] = 100,
    max_rate: Annotated[int, typer.Option(help="Highest rate tried (events/s).")] = 20_000,
    batch: Annotated[int, typer.Option(help="Events per request.")] = 50,
    latency_window: Annotated[
        float, typer.Option(help="Seconds of markers at half the rate found.")
    ] = 60.0,
) -> None:
    """The highest event rate the whole local stack keeps up with (lag bounded over
    --window seconds), and 2xx → ClickHouse / → live profile p50/p95 at half of it."""
    options = Options(
        window_s=window,
        step_window_s=step_window,
        budget_s=budget,
        start_rate=start_rate,
        max_rate=max_rate,
        batch=batch,
        latency_window_s=latency_window,
    )
    kind = bench_broker(broker)
    console = Console()
    try:
        with console.status(f"starting the stack on {kind.value}…") as status:
            report = run(kind, options, status.update, console.print)
    except (StackError, BacklogUnreadable) as exc:
        Console(stderr=True).print(f"The benchmark stopped: {exc}", style="red", markup=False)
        raise typer.Exit(1) from exc
    print_report(report, console)
