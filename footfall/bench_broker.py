"""The broker a benchmark measures on, and the settings that move its figures.

Every ``footfall bench …`` command takes the same ``--broker`` option (:data:`BenchBroker`)
and runs a private broker of that kind, so a figure can always be told apart by what it was
measured on: Apache Kafka and Tansu differ in producer idempotence and, for the stream worker,
in batching (one record per batch on Tansu), which moves throughput several-fold. The line
each benchmark prints (:func:`describe`) is a pure function of :class:`BrokerFacts`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from base.config import BrokerKind, FootfallSettings
from base.kafka import producer_options
from footfall.brokers import BrokerError, choose_kind, free_port, kafka_version
from footfall.stack import StackSettings, tansu_version

BenchBroker = Annotated[
    BrokerKind | None,
    typer.Option(
        "--broker",
        help="The private broker the benchmark runs: kafka (Apache Kafka, KRaft, one node) or "
        "tansu (memory storage, one-record batches in the worker). Default: kafka where Java "
        "17+ and its jars are installed (deploy/local/install.sh), else tansu.",
        show_default=False,
    ),
]
"""The ``--broker`` option of every benchmark command."""


def bench_broker(wanted: BrokerKind | None) -> BrokerKind:
    """The kind asked for, checked (Kafka needs Java and its jars), or the installed default.

    Kafka asked for where it cannot run is a usage error that says how to install it.
    """
    try:
        return choose_kind(wanted.value if wanted is not None else "auto")
    except BrokerError as exc:
        raise typer.BadParameter(str(exc), param_hint="--broker") from exc


def private_stack_settings(data_dir: Path, kind: BrokerKind, **overrides: Any) -> StackSettings:
    """A stack of ``kind`` in ``data_dir`` on free loopback ports: never a running stack's.

    Its Kafka settings (bootstrap, broker kind) are those of the stack's own broker, so the
    benchmark's own clients can use them as they are.
    """
    ports = {
        name: free_port()
        for name in (
            "broker_port",
            "broker_controller_port",
            "collector_port",
            "worker_port",
            "sink_port",
            "webhooks_port",
        )
    }
    own = {"data_dir": data_dir, "broker": kind.value, "broker_kind": kind}
    return StackSettings(**(ports | own | overrides))


@dataclass(frozen=True)
class BrokerFacts:
    """What a benchmark ran on, as far as it moves the figures."""

    kind: BrokerKind
    version: str
    partitions: int
    idempotent: bool
    """Whether the processes' producers are idempotent (only Apache Kafka has it)."""
    heap_mb: int | None = None
    """The local Kafka's JVM heap; None for Tansu (no JVM)."""
    worker_batch_bytes: int | None = None
    """The stream worker's producer batch limit; None when the benchmark runs no worker."""


def broker_facts(
    kind: BrokerKind, partitions: int, heap_mb: int, worker_batch_bytes: int | None = None
) -> BrokerFacts:
    """The facts of a private broker of ``kind``; idempotence as the processes decide it."""
    version = kafka_version() if kind is BrokerKind.kafka else tansu_version()
    options = producer_options(FootfallSettings(broker_kind=kind))
    return BrokerFacts(
        kind=kind,
        version=version or "(version unknown)",
        partitions=partitions,
        idempotent=bool(options["enable_idempotence"]),
        heap_mb=heap_mb if kind is BrokerKind.kafka else None,
        worker_batch_bytes=worker_batch_bytes,
    )


def describe(facts: BrokerFacts) -> str:
    """One line: the broker with its version, then each setting that matters. Pure."""
    if facts.kind is BrokerKind.kafka:
        name = f"Apache Kafka {facts.version} (KRaft, one node, heap {facts.heap_mb} MiB)"
    else:
        name = f"Tansu {facts.version} (memory storage)"
    parts = [
        f"broker: {name}",
        f"{facts.partitions} partitions per topic",
        f"idempotent producers: {'yes' if facts.idempotent else 'no'}",
    ]
    if facts.worker_batch_bytes is not None:
        batch = (
            "one record per batch"
            if facts.worker_batch_bytes <= 1
            else f"up to {facts.worker_batch_bytes:,} bytes"
        )
        parts.append(f"worker producer batches: {batch}")
    return " · ".join(parts)
