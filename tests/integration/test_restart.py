"""`footfall up` stopped every way a user or a crash stops it, then started again: it resumes.

Each run is the real command in a session of its own, on Apache Kafka, with every port given.
One data dir goes through Ctrl-C, SIGTERM and ``kill -9`` of every process of the stack in
turn; after each restart everything stored before is still there, nothing is counted twice
(profiles equal a ground truth computed from what was sent, before and after the restarts)
and a cart left before the stop is abandoned by its timer after it. Then ``kill -9`` of the
``footfall up`` process alone must take every child with it (``PR_SET_PDEATHSIG``).

Carts are abandoned after ``CART_S`` seconds (``FOOTFALL_JOURNEY__*``), timers scanned every
second: the stop comes seconds after the cart, the restart takes longer than what is left.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from base.sqlclient import QueryError, SqlClient
from footfall.brokers import free_port, kafka_available
from footfall.demo.report import progress, wait_until_queryable
from footfall.demo.sender import send_all
from tests.integration.test_crash_recovery import ground_truth, stored_profiles
from tests.integration.test_end_to_end import synthetic_events
from tests.journey.test_journey_stack import shopper_events, wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not kafka_available(), reason="Apache Kafka is not installed"),
]

CART_S = 25
KEY = "demo-secret-key"
PORTS = ("collector", "broker", "broker-controller", "sink", "worker", "webhooks", "dashboard")


@dataclass(frozen=True)
class Proc:
    """A process as /proc shows it; its start time tells a reused PID apart."""

    pid: int
    started: int

    def running(self) -> bool:
        try:
            stat = Path(f"/proc/{self.pid}/stat").read_text()
        except OSError:
            return False
        fields = stat.rsplit(")", 1)[1].split()
        return int(fields[19]) == self.started and fields[0] not in ("Z", "X")


def process_table() -> dict[int, tuple[int, int]]:
    """pid → (parent pid, start time) of every process."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended while we looked
            continue
        table[int(entry.name)] = (int(fields[1]), int(fields[19]))
    return table


def process_tree(root: int) -> list[Proc]:
    """``root`` and all its descendants (children, and their children such as the engine)."""
    table = process_table()
    found = [root]
    for pid in found:
        found += [child for child, (parent, _) in table.items() if parent == pid]
    return [Proc(pid, table[pid][1]) for pid in found if pid in table]


def wait_gone(procs: list[Proc], within_s: float) -> float:
    started = time.monotonic()
    while alive := [p.pid for p in procs if p.running()]:
        assert time.monotonic() - started < within_s, f"still running after {within_s}s: {alive}"
        time.sleep(0.1)
    return time.monotonic() - started


def default_sigint() -> None:
    """In the child: Ctrl-C as in a terminal, even when this test runs in the background."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@dataclass
class FootfallUp:
    """``footfall up`` on one data dir and one set of ports, run again and again."""

    data_dir: Path
    env: dict[str, str]
    ports: dict[str, int] = field(default_factory=lambda: {name: free_port() for name in PORTS})
    process: subprocess.Popen[bytes] | None = None
    runs: int = 0
    seen: list[Proc] = field(default_factory=list)  # every process of every run, for cleanup

    @property
    def output(self) -> Path:
        return self.data_dir.parent / f"up-{self.runs}.out"

    def command(self, *options: str) -> list[str]:
        ports = [arg for name, port in self.ports.items() for arg in (f"--{name}-port", str(port))]
        up = [sys.executable, "-m", "footfall.cli", "up", "--data-dir", str(self.data_dir)]
        return [*up, *ports, *options]

    def launch(self, *options: str) -> subprocess.Popen[bytes]:
        self.runs += 1
        with self.output.open("wb") as out:
            self.process = subprocess.Popen(
                self.command(*options),
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=default_sigint,  # noqa: PLW1509 (no threads in this test)
            )
        return self.process

    def start(self, *options: str, timeout_s: float = 150) -> float:
        """Start it and wait until it says the stack is up; the seconds that took."""
        started = time.monotonic()
        process = self.launch(*options)
        while "Demo shop:" not in self.output.read_text():
            assert process.poll() is None, f"footfall up exited:\n{self.output.read_text()}"
            assert time.monotonic() - started < timeout_s, f"not up:\n{self.output.read_text()}"
            time.sleep(0.2)
        self.seen += self.tree()
        return time.monotonic() - started

    def run(self, *options: str) -> subprocess.CompletedProcess[str]:
        """A run expected to end by itself (a refusal)."""
        return subprocess.run(
            self.command(*options),
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    @property
    def sql(self) -> SqlClient:
        return SqlClient(f"http://127.0.0.1:{self.ports['sink']}", "footfall-admin")

    @property
    def collector_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['collector']}"

    def tree(self) -> list[Proc]:
        assert self.process is not None
        return process_tree(self.process.pid)

    def kill(self) -> None:
        """``kill -9`` whatever is left of every run (a failed test leaves nothing behind)."""
        current = self.tree() if self.process is not None else []
        for proc in current + self.seen:
            if proc.running():
                os.kill(proc.pid, signal.SIGKILL)
        if self.process is not None:
            self.process.wait(10)


def signal_up(sig: signal.Signals) -> Callable[[FootfallUp], None]:
    """Stop by a signal to ``footfall up``, which stops its children and exits 0."""

    def stop(up: FootfallUp) -> None:
        assert up.process is not None
        stack = up.tree()
        up.process.send_signal(sig)
        assert up.process.wait(60) == 0, up.output.read_text()
        assert "stack stopped" in up.output.read_text()
        wait_gone(stack, within_s=10)

    return stop


def kill_everything(up: FootfallUp) -> None:
    """A power cut: every process of the stack frozen, then ``kill -9``, none warned."""
    assert up.process is not None
    stack = up.tree()
    assert len(stack) >= 7  # footfall up, broker, sink and its engine, webhooks, worker, collector
    for proc in stack:
        os.kill(proc.pid, signal.SIGSTOP)
    for proc in stack:
        os.kill(proc.pid, signal.SIGKILL)
    up.process.wait(10)
    wait_gone(stack, within_s=10)


STOPS = {
    "ctrl-c": signal_up(signal.SIGINT),
    "sigterm": signal_up(signal.SIGTERM),
    "kill -9 of every process": kill_everything,
}


@pytest.fixture
def up(tmp_path: Path) -> Iterator[FootfallUp]:
    env = os.environ | {
        "FOOTFALL_TIMER_INTERVAL_S": "1",
        "FOOTFALL_JOURNEY__CART_ABANDONED_AFTER_MINUTES": str(CART_S / 60),
        "FOOTFALL_SNAPSHOT_INTERVAL_S": "0.5",
        "COLUMNS": "200",
    }
    running = FootfallUp(tmp_path / "data", env)
    yield running
    running.kill()


def stored_ids(sql: SqlClient) -> list[str]:
    return [r["id"] for r in sql.rows("SELECT toString(event_id) AS id FROM events")]


def cart_profile(shopper: str) -> str:
    return f"anon-{shopper}"


def stage_of(sql: SqlClient, shopper: str) -> str | None:
    rows = sql.rows(
        "SELECT stage FROM profiles FINAL WHERE profile_id = {p:String}",
        {"p": cart_profile(shopper)},
    )
    return rows[0]["stage"] if rows else None


def abandoned(sql: SqlClient, shopper: str) -> list[int]:
    """When each ``cart_abandoned`` transition of the shopper happened (ms), as stored."""
    rows = sql.rows(
        "SELECT toUnixTimestamp64Milli(at) AS ms FROM journey_transitions FINAL "
        "WHERE profile_id = {p:String} AND to_stage = 'cart_abandoned'",
        {"p": cart_profile(shopper)},
    )
    return [int(r["ms"]) for r in rows]


def cart_due_ms(sql: SqlClient, shopper: str) -> int:
    [cart] = sql.rows(
        "SELECT toUnixTimestamp64Milli(occurred_at) AS ms FROM events FINAL "
        "WHERE anonymous_id = {a:String} AND type = 'cart_add'",
        {"a": shopper},
    )
    return int(cart["ms"]) + CART_S * 1000


def answers(sql: SqlClient) -> bool:
    try:
        sql.scalar("SELECT 1")
    except (QueryError, OSError):
        return False
    return True


@dataclass
class Sent:
    """What was sent and acknowledged so far: the ground truth."""

    customer_events: list[dict[str, Any]] = field(default_factory=list)
    cart_events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def carts(self) -> list[str]:
        return list(self.cart_events)

    @property
    def ids(self) -> set[str]:
        carts = [e for events in self.cart_events.values() for e in events]
        return {e["event_id"] for e in self.customer_events + carts}


def send(up: FootfallUp, events: list[dict[str, Any]]) -> None:
    report = asyncio.run(send_all(up.collector_url, [(KEY, events)], batch_size=50))
    assert report.accepted == len(events), report


def assert_resumed(sql: SqlClient, sent: Sent) -> None:
    """Every event once, profiles equal to the truth, each left cart abandoned once, on time."""
    wait_until_queryable(sql, len(sent.ids), timeout=120)
    ids = stored_ids(sql)
    assert len(ids) == len(sent.ids)
    assert set(ids) == sent.ids
    carts = {cart_profile(s) for s in sent.carts}
    profiles = {k: v for k, v in stored_profiles(sql).items() if k not in carts}
    assert profiles == ground_truth(sent.customer_events)
    for shopper in sent.carts:
        moves = wait_for(lambda s=shopper: abandoned(sql, s), CART_S + 30, f"{shopper} abandoned")
        assert moves == [cart_due_ms(sql, shopper)], shopper


def stop_and_resume(up: FootfallUp, sent: Sent, n: int, how: str) -> None:
    """A shopper leaves a cart; a batch for the same customers as before is acknowledged and
    the stack stopped at once, while it is still working on it; then started and checked."""
    with closing(up.sql) as sql:
        shopper = f"cart-{n}"
        sent.cart_events[shopper] = shopper_events(
            shopper, datetime.now(UTC).replace(microsecond=0)
        )
        send(up, sent.cart_events[shopper])
        wait_for(lambda: stage_of(sql, shopper) == "cart", 30, f"{shopper} in cart")
        events = synthetic_events(customers=40, total=800, seed=100 + n)
        send(up, events)
        sent.customer_events += events
        before = set(stored_ids(sql))
        at_stop = progress(sql)
        assert abandoned(sql, shopper) == []  # not due yet: the timer fires after the restart

    stopped_at = time.monotonic()
    STOPS[how](up)
    stopping = time.monotonic() - stopped_at
    ready = up.start("--broker", "kafka")
    with closing(up.sql) as sql:
        wait_for(lambda: answers(sql), 30, "SQL after restart")
        still = set(stored_ids(sql))
        assert before <= still, f"{len(before - still)} stored events gone after {how}"
        restarted = time.monotonic()
        assert_resumed(sql, sent)
    print(
        f"{how}: stopped in {stopping:.1f}s with {at_stop.events}/{len(sent.ids)} events "
        f"stored, {at_stop.profile_events} folded; up again in {ready:.1f}s; all stored, "
        f"profiled and the cart abandoned {time.monotonic() - restarted:.1f}s later"
    )


@pytest.mark.timeout(420)
def test_footfall_up_resumes_after_every_kind_of_stop(up: FootfallUp) -> None:
    first_start = up.start("--broker", "kafka")
    print(f"\nfirst start {first_start:.1f}s (Kafka storage formatted)")
    sent = Sent()
    for n, how in enumerate(STOPS, start=1):
        stop_and_resume(up, sent, n, how)
    print(f"{len(sent.ids)} events of {len(ground_truth(sent.customer_events))} customers")

    # kill -9 of footfall up alone: the kernel stops every child (PR_SET_PDEATHSIG).
    assert up.process is not None
    children = up.tree()[1:]
    assert len(children) >= 6
    up.process.kill()
    up.process.wait(10)
    gone = wait_gone(children, within_s=30)
    print(f"kill -9 of footfall up: its {len(children)} child processes gone in {gone:.1f}s")

    # The same data dir on Tansu, which keeps nothing: one line with the way out.
    refused = up.run("--broker", "tansu")
    assert refused.returncode == 1
    assert refused.stdout == ""
    lines = refused.stderr.splitlines()
    assert len(lines) == 1, refused.stderr
    assert "footfall up --reset" in lines[0]
    assert "--broker kafka" in lines[0]  # its Kafka data is still there

    # --reset empties it (logs kept), and the stack starts from nothing.
    worker_log = (up.data_dir / "logs" / "worker.log").read_text()
    up.start("--broker", "tansu", "--reset")
    assert "Broker: Tansu" in up.output.read_text()
    with closing(up.sql) as sql:
        assert sql.scalar("SELECT count() FROM events") == 0
    assert (up.data_dir / "logs" / "worker.log").read_text().startswith(worker_log)
    signal_up(signal.SIGTERM)(up)


@pytest.mark.timeout(90)
def test_a_stop_while_the_stack_starts_stops_what_was_started(up: FootfallUp) -> None:
    up.launch("--broker", "tansu")
    # The broker is up and the sink starting: footfall up is inside its start-up.
    wait_for(lambda: len(up.tree()) >= 3, 60, "the broker and the sink started")
    up.seen += up.tree()
    signal_up(signal.SIGTERM)(up)  # exits 0 with "stack stopped", every process gone
