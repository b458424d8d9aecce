"""The local stack: broker, collector, stream worker and ClickHouse sink as child processes.

Every child is started with its settings in the environment and its output in
``<data_dir>/logs/<name>.log``. A child that exits on its own is reported and the whole stack
is stopped: nothing is restarted silently. When the process that started them dies, even by
``kill -9``, the kernel ends the children (:func:`stop_with_parent`): no orphans.
"""

from __future__ import annotations

import ctypes
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Literal

import httpx
from pydantic import AliasChoices, Field, PrivateAttr, model_validator

from base.config import DEFAULT_ADMIN_TOKEN, BrokerKind, FootfallSettings
from footfall.brokers import (
    BrokerError,
    KafkaBroker,
    LocalBroker,
    choose_kind,
    free_port,
    kafka_version,
    local_broker,
    port_open,
    tansu_binary,
)
from schemas.personal import PersonalKeys

__all__ = ["Stack", "StackError", "StackSettings", "free_port", "port_open"]


class StackError(RuntimeError):
    """The stack could not be started or a process died."""


class StaleStateError(StackError):
    """The data dir remembers offsets and tables of a broker that no longer has them.

    Faust would stop with a ``ConsistencyError`` deep in its start-up; this says it in one
    line, with the way out, before any process starts.
    """


class StackSettings(FootfallSettings, PersonalKeys):
    data_dir: Path = Path(".footfall")
    broker: Literal["auto", "kafka", "tansu"] = Field(
        default="auto",
        description="The local broker: Apache Kafka where Java 17+ is found (auto), or Tansu.",
    )
    broker_port: int = 19092
    broker_controller_port: int = 19093
    kafka_heap_mb: int = Field(default=1024, ge=256, description="The local Kafka's heap.")
    collector_port: int = 8000
    worker_port: int = 6066
    sink_port: int = 8123
    webhooks_port: int = 8125
    dashboard_port: int = 8130
    dashboard: bool = Field(
        default=True, description="Start the dashboard (tests that do not look at it leave it out)."
    )
    clickhouse_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("CLICKHOUSE_URL", "FOOTFALL_CLICKHOUSE_URL"),
    )
    admin_token: str = DEFAULT_ADMIN_TOKEN
    start_timeout_s: float = 60.0
    _external: bool = PrivateAttr(default=False)

    @model_validator(mode="after")
    def local_broker_unless_given(self) -> StackSettings:
        """``KAFKA_BOOTSTRAP_SERVERS`` (the one field ``kafka_bootstrap_servers``) names an
        external cluster, and then no broker is started; else every client the stack and the
        CLI open talks to the local broker on ``broker_port``."""
        self._external = "kafka_bootstrap_servers" in self.model_fields_set
        if not self._external:
            self.kafka_bootstrap_servers = f"127.0.0.1:{self.broker_port}"
        return self

    @property
    def external_kafka(self) -> str | None:
        """The external cluster's bootstrap servers, or None when the stack runs its own."""
        return self.kafka_bootstrap_servers if self._external else None

    @property
    def bootstrap(self) -> str:
        return self.kafka_bootstrap_servers

    @property
    def store_dsn(self) -> str:
        return self.clickhouse_url or f"chdb://{(self.data_dir / 'clickhouse').resolve()}"

    @property
    def collector_url(self) -> str:
        return f"http://127.0.0.1:{self.collector_port}"

    @property
    def sink_url(self) -> str:
        return f"http://127.0.0.1:{self.sink_port}"

    @property
    def worker_url(self) -> str:
        return f"http://127.0.0.1:{self.worker_port}"

    @property
    def webhooks_url(self) -> str:
        return f"http://127.0.0.1:{self.webhooks_port}"

    @property
    def dashboard_url(self) -> str:
        return f"http://127.0.0.1:{self.dashboard_port}"


STATE_DIRS = ("worker", "webhooks")  # hold offsets and tables that must match the broker


def stale_state(data_dir: Path, broker: LocalBroker | None) -> list[Path]:
    """State in ``data_dir`` that an empty broker would contradict (Faust refuses to start)."""
    if broker is None or broker.has_state():
        return []
    return [data_dir / name for name in STATE_DIRS if any((data_dir / name).glob("*"))]


def stale_message(data_dir: Path, kind: BrokerKind, stale: list[Path]) -> str:
    """One line: what is wrong with the data dir and the command that starts it empty."""
    kafka_kept = KafkaBroker(data_dir.resolve() / "kafka", 0, 0).has_state()
    keep = " (or keep it: --broker kafka)" if kind is BrokerKind.tansu and kafka_kept else ""
    why = " (Tansu keeps nothing across restarts)" if kind is BrokerKind.tansu else ""
    return (
        f"{data_dir} holds {' and '.join(p.name for p in stale)} state of an earlier run "
        f"that the {kind.value} broker no longer has{why}; start it empty with "
        f"`footfall up --reset --data-dir {shlex.quote(str(data_dir))}`{keep}"
    )


def reset_data_dir(data_dir: Path) -> None:
    """Delete everything the stack stored in ``data_dir`` except its logs."""
    if not data_dir.exists():
        return
    for entry in data_dir.iterdir():
        if entry.name == "logs":
            continue
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def tansu_version() -> str:
    """What ``tansu --version`` says, without the name (``"0.6.0"``)."""
    try:
        shown = subprocess.run(
            [str(tansu_binary()), "--version"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (BrokerError, OSError, subprocess.TimeoutExpired):
        return "(version unknown)"
    return shown.stdout.strip().removeprefix("tansu").strip() or "(version unknown)"


PR_SET_PDEATHSIG = 1
_PRCTL = getattr(ctypes.CDLL(None), "prctl", None) if sys.platform == "linux" else None


def stop_with_parent(death_signal: signal.Signals) -> None:
    """In the child, before exec: ``death_signal`` when the parent dies (Linux; else nothing).

    With the parent gone nobody stops the children in order, so they all get their signal at
    once. The broker is asked to shut down (``SIGTERM``); the processes that talk to it are
    killed (``SIGKILL``), as a crash would, which they are built to survive: asked to stop
    instead, a Faust worker whose broker went first retries it forever and never exits.

    ``prctl`` is looked up in the parent, so the child only makes one C call between fork
    and exec (nothing that could wait on a lock another thread held at the fork).
    """
    if _PRCTL is not None:
        _PRCTL(PR_SET_PDEATHSIG, death_signal, 0, 0, 0)


def http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def sink_writing(sink_url: str) -> bool:
    """The sink opened its store and runs its writer: the start-up gate. Its ``/readyz`` also
    waits for the consumer group's first assignment, which the later processes need not wait
    for (on a fresh broker the group coordinator takes seconds to appear)."""
    try:
        status = httpx.get(f"{sink_url}/healthz", timeout=1.0).json().get("status")
        return bool(status is not None and status != "waiting")
    except (httpx.HTTPError, ValueError):
        return False


@dataclass
class Child:
    name: str
    command: list[str]
    env: dict[str, str]
    ready: Callable[[], bool]
    listens: str
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    prepare: Callable[[], None] = lambda: None
    death_signal: signal.Signals = signal.SIGKILL  # when the stack's process dies

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


@dataclass
class Stack:
    settings: StackSettings
    children: list[Child] = field(default_factory=list)
    broker: LocalBroker | None = None

    def __post_init__(self) -> None:
        s = self.settings
        python = sys.executable
        # An external cluster is Kafka unless said otherwise (a Tansu started elsewhere).
        kind = BrokerKind.kafka if s.broker == "auto" else BrokerKind(s.broker)
        if not s.external_kafka:
            try:
                kind = choose_kind(s.broker)
                self.broker = local_broker(
                    kind,
                    s.data_dir.resolve() / "kafka",
                    s.broker_port,
                    s.broker_controller_port,
                    s.kafka_heap_mb,
                )
                broker_command = self.broker.command()
            except BrokerError as exc:
                raise StackError(str(exc)) from exc
        common = {
            "KAFKA_BOOTSTRAP_SERVERS": s.bootstrap,
            "FOOTFALL_TOPIC_PREFIX": s.topic_prefix,
            "FOOTFALL_PARTITIONS": str(s.partitions),
            "FOOTFALL_BROKER_KIND": kind.value,
            "FOOTFALL_MODE": s.mode.value,  # demo unless asked: the local stack has demo keys
            "FOOTFALL_LOG_FORMAT": "text",  # its logs are files a person reads
            "PYTHONUNBUFFERED": "1",
        }
        if self.broker is not None:
            broker = self.broker
            self.children.append(
                Child(
                    "broker",
                    broker_command,
                    {},
                    broker.ready,
                    f"kafka://127.0.0.1:{s.broker_port} ({kind.value})",
                    prepare=broker.prepare,
                    death_signal=signal.SIGTERM,  # it depends on nobody: a clean shutdown
                )
            )
        self.children += [
            Child(
                "sink",
                [python, "-m", "sinks"],
                common
                | {
                    "CLICKHOUSE_URL": s.store_dsn,
                    "FOOTFALL_PORT": str(s.sink_port),
                    "FOOTFALL_ADMIN_TOKEN": s.admin_token,
                },
                lambda: sink_writing(s.sink_url),
                f"{s.sink_url} (read-only SQL)",
            ),
            Child(
                "webhooks",
                [python, "-m", "webhooks"],
                common
                | {
                    "FOOTFALL_PORT": str(s.webhooks_port),
                    "FOOTFALL_ADMIN_TOKEN": s.admin_token,
                    "FOOTFALL_DATA_DIR": str((s.data_dir / "webhooks").resolve()),
                },
                lambda: http_ok(f"{s.webhooks_url}/ping"),
                f"{s.webhooks_url} (webhook dispatcher, admin API)",
            ),
            Child(
                "worker",
                [python, "-m", "stream_processors"],
                common
                | {
                    "FOOTFALL_WEB_PORT": str(s.worker_port),
                    "FOOTFALL_DATA_DIR": str((s.data_dir / "worker").resolve()),
                },
                lambda: http_ok(f"{s.worker_url}/"),
                f"{s.worker_url} (worker web)",
            ),
            Child(
                "collector",
                [python, "-m", "collector"],
                common | {"FOOTFALL_PORT": str(s.collector_port)},
                lambda: http_ok(f"{s.collector_url}/readyz"),
                f"{s.collector_url} (events: POST /v1/batch, shop: /shop/)",
            ),
        ]
        if s.dashboard:
            self.children.append(
                Child(
                    "dashboard",
                    [python, "-m", "dashboard"],
                    common
                    | {
                        "FOOTFALL_PORT": str(s.dashboard_port),
                        "FOOTFALL_SQL_URL": s.sink_url,
                        "FOOTFALL_WORKER_URL": s.worker_url,
                    },
                    lambda: http_ok(f"{s.dashboard_url}/healthz"),
                    f"{s.dashboard_url} (dashboard: sign in with the admin or a site's token)",
                )
            )

    @property
    def broker_kind(self) -> BrokerKind:
        return self.broker.kind if self.broker is not None else BrokerKind.kafka

    @property
    def broker_name(self) -> str:
        """Which broker the stack runs on, with its version, as a person reads it."""
        if self.broker is None:
            return f"external Kafka at {self.settings.bootstrap}"
        if self.broker.kind is BrokerKind.kafka:
            return f"Apache Kafka {kafka_version() or '(version unknown)'}"
        return f"Tansu {tansu_version()}"

    def start(self, on_progress: Callable[[str], None] = lambda _: None) -> None:
        """Start the broker (when the stack has its own), then every other child at once,
        and wait until each is ready: they depend on the broker only, so their start-ups
        (imports, connections, the worker's group join) overlap."""
        stale = stale_state(self.settings.data_dir, self.broker)
        if stale:
            raise StaleStateError(stale_message(self.settings.data_dir, self.broker_kind, stale))
        logs = self.settings.data_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        first = 1 if self.broker is not None else 0
        try:
            for group in (self.children[:first], self.children[first:]):
                for child in group:
                    on_progress(f"starting {child.name}")
                    child.log_path = logs / f"{child.name}.log"
                    self.spawn(child)
                for child in group:
                    self.wait_ready(child)
                    on_progress(f"{child.name} ready at {child.listens}")
        except BaseException:
            self.stop()
            raise

    def launch(self, child: Child) -> None:
        """Start one child process and wait until it is ready."""
        self.spawn(child)
        self.wait_ready(child)

    def spawn(self, child: Child) -> None:
        """Start one child process."""
        assert child.log_path is not None
        try:
            child.prepare()
        except BrokerError as exc:
            raise StackError(f"{child.name}: {exc}") from exc
        with child.log_path.open("ab") as log_file:
            child.process = subprocess.Popen(
                child.command,
                env=os.environ | child.env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                # One C call between fork and exec (see stop_with_parent).
                preexec_fn=partial(stop_with_parent, child.death_signal),  # noqa: PLW1509
            )

    def child(self, name: str) -> Child:
        for child in self.children:
            if child.name == name:
                return child
        raise KeyError(name)

    def kill(self, name: str) -> None:
        """``kill -9`` one child, as a crash would (used by failure tests)."""
        process = self.child(name).process
        if process is not None:
            process.kill()
            process.wait(10)

    def restart(self, name: str) -> None:
        """Start a stopped or crashed child again with the same settings."""
        child = self.child(name)
        if child.alive():
            raise StackError(f"{name} is still running")
        self.launch(child)

    def add_worker(self, name: str, port: int) -> Child:
        """Start one more stream worker (same group, own data dir and web port)."""
        first = self.child("worker")
        s = self.settings
        child = Child(
            name,
            first.command,
            first.env
            | {
                "FOOTFALL_WEB_PORT": str(port),
                "FOOTFALL_DATA_DIR": str((s.data_dir / name).resolve()),
            },
            lambda: http_ok(f"http://127.0.0.1:{port}/"),
            f"http://127.0.0.1:{port} ({name} web)",
            log_path=s.data_dir / "logs" / f"{name}.log",
        )
        self.children.append(child)
        self.launch(child)
        return child

    def wait_ready(self, child: Child) -> None:
        deadline = time.monotonic() + self.settings.start_timeout_s
        while not child.ready():
            if not child.alive():
                raise StackError(f"{child.name} exited during start-up; {self.tail(child)}")
            if time.monotonic() > deadline:
                raise StackError(
                    f"{child.name} not ready after "
                    f"{self.settings.start_timeout_s:.0f}s; {self.tail(child)}"
                )
            time.sleep(0.2)

    def tail(self, child: Child, lines: int = 15) -> str:
        if child.log_path is None or not child.log_path.exists():
            return "no log"
        text = child.log_path.read_text(errors="replace").splitlines()[-lines:]
        return f"last lines of {child.log_path}:\n" + "\n".join(text)

    def dead(self) -> list[Child]:
        return [c for c in self.children if c.process is not None and not c.alive()]

    def stop(self, timeout: float = 15.0) -> None:
        """Stop children in reverse order: SIGTERM, then SIGKILL after ``timeout``."""
        for child in reversed(self.children):
            if child.alive():
                assert child.process is not None
                child.process.send_signal(signal.SIGTERM)
                try:
                    child.process.wait(timeout)
                except subprocess.TimeoutExpired:
                    child.process.kill()
                    child.process.wait(5)

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
