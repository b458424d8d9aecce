"""Prometheus: what every process's registry has in common.

Each process (collector, worker, sink, webhook dispatcher) keeps one registry of its own, made
here, so the shared families — ``footfall_ready``, the consumer lag of its groups, the
process's CPU and memory — are named and labelled the same everywhere; the process adds its
own counters and histograms. Names follow Prometheus conventions (``footfall_<process>_…``,
base units, ``_total`` on counters, ``_seconds`` on times) and every label has a bounded set
of values: event types, topics, tables, reasons of a fixed list, subscription ids.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.process_collector import ProcessCollector

from base.health import ReadinessCollector
from base.lag import LagCollector, LagMonitor

STAGE_SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
"""Buckets of one step's time: a produce, an insert, a commit, a query."""
PIPELINE_SECONDS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800)
"""Buckets of an event's way from the collector's answer to a row or a live profile."""
BATCH_SIZES = (1, 10, 50, 100, 500, 1000, 5000, 10_000, 50_000)
"""Buckets of how many rows or records one batch holds."""
SAMPLES_PER_BATCH = 64
"""Latency histograms observe at most this many events of a batch, evenly spread: the
quantiles stay true and a 50,000-row batch costs 64 observations, not 50,000."""


def process_registry(
    process: str, problems: Callable[[], list[str]], lag: LagMonitor | None = None
) -> CollectorRegistry:
    """A process's registry with readiness, its groups' lag (if it consumes) and its own
    CPU, memory and file descriptors."""
    registry = CollectorRegistry()
    registry.register(ReadinessCollector(process, problems))
    if lag is not None:
        registry.register(LagCollector(lag))
    ProcessCollector(registry=registry)
    return registry


def exposition(registry: CollectorRegistry) -> tuple[bytes, str]:
    """The registry in the Prometheus text format, with its content type."""
    return generate_latest(registry), CONTENT_TYPE_LATEST


def sampled(count: int) -> range:
    """Indices of at most ``SAMPLES_PER_BATCH`` items of a batch of ``count``, evenly spread."""
    return range(0, count, max(count // SAMPLES_PER_BATCH, 1))
