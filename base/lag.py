"""Consumer lag: how many offsets each consumer group has yet to read, per partition.

Lag is the broker's high watermark (the end offset) minus the group's committed offset, read
from the broker itself, so every process and the ``footfall up`` status line report the same
figure. The arithmetic is pure (:func:`lag_of`, :func:`partition_lags`, :func:`lag_summary`);
:class:`LagReader` is the one place that asks the broker; :class:`LagMonitor` reads in the
background and serves the last reading to Prometheus (:class:`LagCollector`) and to the CLI
(:class:`LagWatch`, on a thread of its own).

Lag counts offsets: on a compacted topic some of them no longer hold a record.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

Partition = tuple[str, int]
"""A topic and partition number (aiokafka's ``TopicPartition`` is one)."""

REFRESH_S = 5.0
"""How often a monitor reads the broker: a few requests per group, cheap at this pace."""
READ_TIMEOUT_S = 5.0
"""Longest one reading may take; a broker that does not answer costs a counted error."""
STALE_AFTER_READS = 3
"""A reading older than this many refresh intervals is shown as stale, not as the lag."""


@dataclass(frozen=True)
class PartitionLag:
    """One consumer group on one partition, as the broker saw it at one moment."""

    group: str
    topic: str
    partition: int
    committed: int | None
    """The next offset the group will read; None when it never committed on this partition."""
    start_offset: int
    """The log start offset: earlier records were removed by retention."""
    end_offset: int
    """The high watermark: the offset the next record written will get."""
    lag: int


def lag_of(committed: int | None, start_offset: int, end_offset: int) -> int:
    """Offsets the group has yet to read on one partition.

    Every Footfall consumer starts at the earliest record (``auto_offset_reset="earliest"``),
    so a group without a committed offset will read from the log start offset: its lag is
    end minus log start, not the whole end offset, because records that retention removed
    will never be read. A committed offset below the log start is reset there for the same
    reason. A committed offset past the end (a truncated log, Tansu's high watermark after
    multi-record batches) is no backlog: lag 0, never negative.
    """
    position = start_offset if committed is None else max(committed, start_offset)
    return max(end_offset - position, 0)


def partition_lags(
    group: str,
    committed: Mapping[Partition, int],
    starts: Mapping[Partition, int],
    ends: Mapping[Partition, int],
) -> list[PartitionLag]:
    """The lag of ``group`` on every partition of every topic it committed on.

    A partition of such a topic without a commit of its own (records arrived there only
    while the group was down) counts from its log start: that is exactly a backlog the lag
    must show. A negative committed offset is Kafka's "none" and is treated as such.
    """
    topics = {topic for topic, _ in committed}
    rows = []
    for tp in sorted(p for p in ends if p[0] in topics):
        topic, partition = tp
        offset = committed.get(tp)
        done = offset if offset is not None and offset >= 0 else None
        start, end = starts.get(tp, 0), ends[tp]
        rows.append(
            PartitionLag(group, topic, partition, done, start, end, lag_of(done, start, end))
        )
    return rows


def total_lag(rows: Iterable[PartitionLag], group_ids: Iterable[str]) -> int:
    """The lag of some groups summed over their partitions."""
    wanted = set(group_ids)
    return sum(row.lag for row in rows if row.group in wanted)


PartitionKey = tuple[str, str, int]
"""A consumer group, topic and partition."""


@dataclass(frozen=True)
class Moved:
    """Where a partition's committed offset stood, and since when (wall clock)."""

    committed: int | None
    since: float


def progress(
    previous: Mapping[PartitionKey, Moved], rows: Iterable[PartitionLag], now: float
) -> dict[PartitionKey, Moved]:
    """Pure. The committed offset of every partition read, with the time it last moved; a
    partition with nothing to read counts as moving (an idle consumer is not a stuck one)."""
    moved = {}
    for row in rows:
        key = (row.group, row.topic, row.partition)
        before = previous.get(key)
        if before is not None and before.committed == row.committed and row.lag > 0:
            moved[key] = before
        else:
            moved[key] = Moved(row.committed, now)
    return moved


@dataclass(frozen=True)
class LagReading:
    """The lag of every partition of the monitored groups at ``read_at`` (wall clock)."""

    rows: tuple[PartitionLag, ...]
    read_at: float
    seconds: float
    """How long the reading took."""


def lag_summary(
    groups: Mapping[str, Sequence[str]],
    reading: LagReading | None,
    now: float,
    stale_after_s: float,
    last_error: str | None = None,
) -> str:
    """``lag: worker 0 · sink 12 · webhooks 0`` from a reading, for the status line.

    ``groups`` maps the name people see (a process) to the group ids whose lag it sums. A
    reading older than ``stale_after_s`` is not shown as if it were current: the line says
    how old the last one is and why none came since.
    """
    why = f" ({last_error})" if last_error else ""
    if reading is None:
        return f"lag: not read yet{why}"
    age = now - reading.read_at
    if age > stale_after_s:
        return f"lag: no reading for {age:.0f}s{why}"
    parts = [f"{name} {total_lag(reading.rows, ids):,}" for name, ids in groups.items()]
    return "lag: " + " · ".join(parts)


class LagReader:
    """Committed offsets from the admin client, log start and end offsets from a consumer.

    Both clients stay connected between readings; :meth:`close` ends them.
    """

    def __init__(
        self, bootstrap_servers: str, request_timeout_ms: int = 5000, topic_prefix: str = ""
    ) -> None:
        self.topic_prefix = topic_prefix
        self.admin = AIOKafkaAdminClient(
            bootstrap_servers=bootstrap_servers, request_timeout_ms=request_timeout_ms
        )
        self.offsets = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers,
            group_id=None,
            enable_auto_commit=False,
            request_timeout_ms=request_timeout_ms,
        )

    async def start(self) -> None:
        await self.admin.start()
        await self.offsets.start()

    async def close(self) -> None:
        await self.offsets.stop()
        await self.admin.close()

    async def read(self, group_ids: Sequence[str]) -> list[PartitionLag]:
        """The lag of each group on every partition of the topics it committed on.

        Each group's offsets are asked for on named partitions (every partition of every
        topic) rather than all of the group's at once: asked without topics, Tansu answers
        with a response aiokafka cannot decode and drops the connection. Partitions a group
        never committed on come back as -1 and are left to :func:`partition_lags`. Only the
        topics named with ``topic_prefix`` are asked about: on a broker shared with other
        applications (or other stacks) every topic's offsets made each reading slower, then
        time out.
        """
        topics = [
            t
            for t in await self.admin.list_topics()
            if not t.startswith("__") and t.startswith(self.topic_prefix)
        ]
        if not topics:
            return []
        partitions = [
            TopicPartition(topic["topic"], part["partition"])
            for topic in await self.admin.describe_topics(topics)
            if not topic["error_code"]
            for part in topic["partitions"]
        ]
        committed: list[dict[Any, Any]] = await asyncio.gather(
            *(
                self.admin.list_consumer_group_offsets(group, partitions=partitions)
                for group in group_ids
            )
        )
        starts = await self.offsets.beginning_offsets(partitions)
        ends = await self.offsets.end_offsets(partitions)
        rows = []
        for group, offsets in zip(group_ids, committed, strict=True):
            done = {tp: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}
            rows += partition_lags(group, done, starts, ends)
        return rows


async def group_lag(
    bootstrap_servers: str, group_ids: Sequence[str], topic_prefix: str = ""
) -> list[PartitionLag]:
    """One reading of the lag of ``group_ids`` (connects, reads, disconnects)."""
    reader = LagReader(bootstrap_servers, topic_prefix=topic_prefix)
    try:
        await reader.start()
        return await reader.read(group_ids)
    finally:
        await reader.close()


class LagMonitor:
    """Reads the lag of some groups every ``interval_s`` and keeps the last reading.

    It never raises what the broker does: a failed or slow reading (bounded by
    ``timeout_s``) is counted by error type, the clients are opened afresh at the next one,
    and the last good reading stays with its age. Only the event loop it runs on touches it,
    apart from plain attribute reads (:class:`LagWatch`).
    """

    def __init__(
        self,
        bootstrap_servers: str,
        group_ids: Sequence[str],
        interval_s: float = REFRESH_S,
        timeout_s: float = READ_TIMEOUT_S,
        topic_prefix: str = "",
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.group_ids = list(group_ids)
        self.topic_prefix = topic_prefix
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.latest: LagReading | None = None
        self.last_error: str | None = None
        self.errors: Counter[str] = Counter()
        self.moved: dict[PartitionKey, Moved] = {}
        """Since when each partition's committed offset stands still (health's stall check)."""

    @property
    def stale_after_s(self) -> float:
        return self.interval_s * STALE_AFTER_READS + self.timeout_s

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Read until ``stop`` is set (or the task is cancelled)."""
        stop = stop or asyncio.Event()
        reader: LagReader | None = None
        try:
            while not stop.is_set():
                reader = await self.read_once(reader)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.interval_s)
        finally:
            if reader is not None:
                await reader.close()

    async def read_once(self, reader: LagReader | None) -> LagReader | None:
        """One reading; returns the reader to keep, or None when it must be opened again."""
        began = time.monotonic()
        try:
            if reader is None:
                timeout_ms = int(self.timeout_s * 1000)
                reader = LagReader(self.bootstrap_servers, timeout_ms, self.topic_prefix)
                await asyncio.wait_for(reader.start(), self.timeout_s)
            rows = await asyncio.wait_for(reader.read(self.group_ids), self.timeout_s)
        except (KafkaError, OSError, TimeoutError) as exc:
            self.errors[type(exc).__name__] += 1
            self.last_error = f"{type(exc).__name__}: {exc}".rstrip(": ")
            if reader is not None:
                await reader.close()
            return None
        self.latest = LagReading(tuple(rows), time.time(), time.monotonic() - began)
        self.moved = progress(self.moved, rows, self.latest.read_at)
        self.last_error = None
        return reader


class LagCollector:
    """The monitor's last reading as Prometheus gauges, built at each scrape.

    A custom collector rather than labelled gauges: a partition or group that is no longer
    read disappears from the output instead of keeping its last value forever.
    """

    def __init__(self, monitor: LagMonitor) -> None:
        self.monitor = monitor

    def describe(self) -> Iterator[Metric]:
        return self.families(None)

    def collect(self) -> Iterator[Metric]:
        return self.families(self.monitor.latest)

    def families(self, reading: LagReading | None) -> Iterator[Metric]:
        keys = ["group", "topic", "partition"]
        lag = GaugeMetricFamily(
            "footfall_consumer_lag",
            "Offsets the group has yet to read (high watermark minus committed offset).",
            labels=keys,
        )
        committed = GaugeMetricFamily(
            "footfall_consumer_committed_offset", "The group's committed offset.", labels=keys
        )
        end = GaugeMetricFamily(
            "footfall_topic_end_offset", "The partition's high watermark.", labels=keys[1:]
        )
        seen: set[Partition] = set()
        for row in reading.rows if reading else ():
            where = [row.group, row.topic, str(row.partition)]
            lag.add_metric(where, row.lag)
            if row.committed is not None:
                committed.add_metric(where, row.committed)
            if (row.topic, row.partition) not in seen:
                seen.add((row.topic, row.partition))
                end.add_metric(where[1:], row.end_offset)
        errors = CounterMetricFamily(
            "footfall_consumer_lag_read_errors",
            "Lag readings that failed, by error type.",
            labels=["error"],
        )
        for error, count in sorted(self.monitor.errors.items()):
            errors.add_metric([error], count)
        age = GaugeMetricFamily(
            "footfall_consumer_lag_age_seconds",
            "Seconds since the last good lag reading (the gauges above are that old).",
        )
        seconds = GaugeMetricFamily(
            "footfall_consumer_lag_read_seconds", "How long the last good lag reading took."
        )
        if reading is not None:
            age.add_metric([], max(time.time() - reading.read_at, 0.0))
            seconds.add_metric([], reading.seconds)
        yield from (lag, committed, end, errors, age, seconds)


class LagWatch:
    """The lag of named groups of consumer groups, read on a thread and event loop of its
    own: for synchronous code that must not wait for the broker (the CLI's status line
    refreshes every second; a reading takes tens of milliseconds, or seconds when the broker
    is down)."""

    def __init__(
        self,
        bootstrap_servers: str,
        groups: Mapping[str, Sequence[str]],
        interval_s: float = REFRESH_S,
        topic_prefix: str = "",
    ) -> None:
        self.groups = {name: list(ids) for name, ids in groups.items()}
        every = [group for ids in self.groups.values() for group in ids]
        self.monitor = LagMonitor(bootstrap_servers, every, interval_s, topic_prefix=topic_prefix)
        self.thread = threading.Thread(target=self.main, name="lag-watch", daemon=True)
        self.started = threading.Event()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stop: asyncio.Event | None = None

    def summary(self) -> str:
        """``lag: worker 0 · sink 12 · webhooks 0`` from the last reading (never waits)."""
        monitor = self.monitor
        return lag_summary(
            self.groups, monitor.latest, time.time(), monitor.stale_after_s, monitor.last_error
        )

    def main(self) -> None:
        asyncio.run(self.watch())

    async def watch(self) -> None:
        self.loop, self.stop = asyncio.get_running_loop(), asyncio.Event()
        self.started.set()
        await self.monitor.run(self.stop)

    def __enter__(self) -> LagWatch:
        self.thread.start()
        self.started.wait(5)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.loop is not None and self.stop is not None and self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(self.monitor.timeout_s + 1)
