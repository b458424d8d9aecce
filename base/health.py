"""Liveness apart from readiness, judged the same way in every process.

*Liveness* (``/livez``) says the process's loop runs: the answer comes from that loop, and
each process adds whether its main tasks are still going. A supervisor restarts a process
that is not live. *Readiness* (``/readyz``) says it can do its job now, and if not, why: each
check is a pure function of what the process observed (a lag reading, the age of a store
probe still waiting for its answer, a consumer's assignment) that returns the reasons it is
not, so a frozen store, a stuck consumer or a commit that stopped moving turns readiness false
with the reason in the body (and in ``footfall up`` and ``footfall status``).

The consumer checks read the lag monitor every process already runs
(:class:`base.lag.LagMonitor`): the broker is unreachable when no reading came for a
while; a partition is stalled when the group has records to read there and its committed
offset has not moved for ``commit_stall_s``; the group is behind when its lag passes
``max_lag``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping

from prometheus_client.core import GaugeMetricFamily, Metric

from base.config import HealthSettings
from base.lag import LagMonitor, Moved, PartitionKey, PartitionLag


def consumer_problems(
    rows: Iterable[PartitionLag],
    moved: Mapping[PartitionKey, Moved],
    now: float,
    limits: HealthSettings,
    groups: Iterable[str],
) -> list[str]:
    """Pure. Why the consumer groups ``groups`` cannot be called ready from one lag reading:
    stalled partitions (records to read, committed offset still for ``commit_stall_s``) and a
    total lag beyond ``max_lag``."""
    wanted = set(groups)
    problems = []
    behind = 0
    for row in rows:
        if row.group not in wanted:
            continue
        behind += row.lag
        still = moved.get((row.group, row.topic, row.partition))
        if row.lag > 0 and still is not None and now - still.since >= limits.commit_stall_s:
            problems.append(
                f"{row.group} on {row.topic}[{row.partition}]: committed offset "
                f"{row.committed} has not moved for {now - still.since:.0f}s with {row.lag:,} "
                "to read (a stuck consumer or store)"
            )
    if behind > limits.max_lag:
        problems.append(f"consumer lag {behind:,} is above {limits.max_lag:,}")
    return problems


def lag_problems(monitor: LagMonitor, limits: HealthSettings, groups: Iterable[str]) -> list[str]:
    """The consumer checks on the monitor's last reading, or why there is no current one."""
    reading = monitor.latest
    if reading is None:
        return []  # the first reading is under way; an unreachable broker shows as stale below
    now = reading.read_at
    age = time.time() - reading.read_at
    if age > monitor.stale_after_s:
        why = f" ({monitor.last_error})" if monitor.last_error else ""
        return [f"broker: no lag reading for {age:.0f}s{why}"]
    return consumer_problems(reading.rows, monitor.moved, now, limits, groups)


def readiness(problems: list[str]) -> tuple[int, dict[str, object]]:
    """Pure. The ``/readyz`` answer: 200 and ``ready`` with no problem, else 503 with them."""
    if problems:
        return 503, {"ready": False, "problems": problems}
    return 200, {"ready": True, "problems": []}


def liveness(dead: list[str]) -> tuple[int, dict[str, object]]:
    """Pure. The ``/livez`` answer: 200 while every main task of the process runs."""
    if dead:
        return 503, {"live": False, "stopped": dead}
    return 200, {"live": True}


class ReadinessCollector:
    """``footfall_ready`` (1 or 0) and ``footfall_readiness_problems`` for Prometheus, judged
    at each scrape by the same checks as ``/readyz``."""

    def __init__(self, process: str, problems: Callable[[], list[str]]) -> None:
        self.process = process
        self.problems = problems

    def describe(self) -> Iterator[Metric]:
        return self.families([])

    def collect(self) -> Iterator[Metric]:
        return self.families(self.problems())

    def families(self, problems: list[str]) -> Iterator[Metric]:
        ready = GaugeMetricFamily(
            "footfall_ready",
            "1 while the process can do its job (its /readyz).",
            labels=["process"],
        )
        ready.add_metric([self.process], 0 if problems else 1)
        count = GaugeMetricFamily(
            "footfall_readiness_problems",
            "How many readiness checks fail now (the reasons are in /readyz).",
            labels=["process"],
        )
        count.add_metric([self.process], len(problems))
        yield from (ready, count)
