"""What ``footfall status`` and ``footfall up`` show: each process's health, the lag, the
throughput and the age of the newest stored event, read from the processes' own ``/readyz`` and
``/metrics`` over HTTP, so the same screen works against a production deployment (URLs and the
admin token as options) as against the local stack.

Reading is I/O (:func:`read_process`); everything shown is computed by pure functions from two
readings (:func:`figures`, :func:`health_summary`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import httpx
from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
"""Sample values by name and sorted labels."""


@dataclass(frozen=True)
class Endpoint:
    name: str
    url: str
    token: str | None = None
    """Sent as a bearer token (the webhook dispatcher's /metrics needs the admin token)."""


@dataclass(frozen=True)
class ProcessReading:
    name: str
    ready: bool | None
    """None: the process did not answer."""
    problems: tuple[str, ...]
    samples: Samples = field(default_factory=dict)
    at: float = 0.0


def parse_samples(text: str) -> Samples:
    """Pure. Every sample of a Prometheus text exposition."""
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = float(sample.value)
    return samples


def read_process(http: httpx.Client, endpoint: Endpoint, metrics: bool = True) -> ProcessReading:
    """One process's readiness (and metrics): a process that does not answer is not ready."""
    now = time.time()
    headers = {"Authorization": f"Bearer {endpoint.token}"} if endpoint.token else {}
    try:
        answer = http.get(f"{endpoint.url}/readyz", headers=headers)
        body = answer.json()
        ready, problems = bool(body.get("ready")), tuple(body.get("problems") or ())
        samples: Samples = {}
        if metrics:
            scraped = http.get(f"{endpoint.url}/metrics", headers=headers)
            if scraped.status_code == 200:
                samples = parse_samples(scraped.text)
    except (httpx.HTTPError, ValueError) as exc:
        return ProcessReading(endpoint.name, None, (f"not answering: {exc}",), at=now)
    return ProcessReading(endpoint.name, ready, problems, samples, now)


def total(samples: Samples, name: str, **labels: str) -> float:
    """Pure. The sum of the samples of ``name`` whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(value for (n, have), value in samples.items() if n == name and wanted <= set(have))


def by_label(samples: Samples, name: str, label: str) -> dict[str, float]:
    """Pure. The samples of ``name`` summed by one label."""
    sums: dict[str, float] = {}
    for (n, have), value in samples.items():
        if n == name:
            key = dict(have).get(label, "")
            sums[key] = sums.get(key, 0.0) + value
    return sums


RATES = {
    "accepted by the collector": ("collector", "footfall_collector_events_accepted_total"),
    "read by the worker": ("worker", "footfall_worker_messages_total"),
    "rows stored": ("sink", "footfall_sink_rows_inserted_total"),
    "webhook attempts": ("webhooks", "footfall_webhook_attempts_total"),
}


@dataclass(frozen=True)
class Figures:
    lag: dict[str, float]
    """Offsets behind, by consumer group."""
    rates: dict[str, float | None]
    """Per second since the previous reading (None on the first)."""
    newest_event_age_s: float | None
    last_insert_age_s: float | None


def figures(
    previous: Mapping[str, ProcessReading] | None, current: Mapping[str, ProcessReading]
) -> Figures:
    """Pure. Lag by group, rates between two readings, and how old the freshest row is."""
    lag: dict[str, float] = {}
    for reading in current.values():
        lag |= by_label(reading.samples, "footfall_consumer_lag", "group")
    rates: dict[str, float | None] = {}
    for title, (process, name) in RATES.items():
        now, before = current.get(process), (previous or {}).get(process)
        if now is None or before is None or now.at <= before.at or not now.samples:
            rates[title] = None
            continue
        grown = total(now.samples, name) - total(before.samples, name)
        rates[title] = max(grown, 0.0) / (now.at - before.at)
    sink = current.get("sink")
    newest = last = None
    if sink is not None and sink.samples:
        stamp = total(sink.samples, "footfall_sink_newest_event_received_timestamp_seconds")
        newest = sink.at - stamp if stamp > 0 else None
        inserted = total(
            sink.samples, "footfall_sink_last_insert_timestamp_seconds", table="events"
        )
        last = sink.at - inserted if inserted > 0 else None
    return Figures(lag, rates, newest, last)


def health_summary(readings: Sequence[ProcessReading]) -> str:
    """Pure. ``all ready`` or each process that is not, with its first reason."""
    unwell = [r for r in readings if not r.ready]
    if not unwell:
        return "all ready"
    return " · ".join(
        f"{r.name} {'not answering' if r.ready is None else 'not ready'}: "
        f"{r.problems[0] if r.problems else '?'}"
        for r in unwell
    )


class HealthWatch:
    """The readiness of some processes, read every ``interval_s`` on a thread of its own, for
    a status line that must never wait for a process (a frozen one answers after the timeout).
    """

    def __init__(self, endpoints: Sequence[Endpoint], interval_s: float = 2.0) -> None:
        self.endpoints = list(endpoints)
        self.interval_s = interval_s
        self.latest: list[ProcessReading] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.main, name="health-watch", daemon=True)

    def summary(self) -> str:
        return health_summary(self.latest) if self.latest else "health: not read yet"

    def main(self) -> None:
        with httpx.Client(timeout=2.0) as http:
            while not self.stop.is_set():
                self.latest = [read_process(http, e, metrics=False) for e in self.endpoints]
                self.stop.wait(self.interval_s)

    def __enter__(self) -> HealthWatch:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(5)
