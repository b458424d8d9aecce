"""Prometheus metrics of the worker, taken from Faust's sensor hooks (no agent code changes).

Faust calls a sensor around every message, commit, send and rebalance; this one counts and
times them in the worker's registry (``base.metrics``), in base units with bounded labels
(topics, never keys or offsets). Faust's own ``PrometheusMonitor`` keeps per-message history
and reports milliseconds; a lean sensor costs a counter increment per message, and the
latency histogram observes one message in ``LATENCY_EVERY``.
"""

from __future__ import annotations

import time
from typing import Any

import faust
from faust.sensors import Sensor
from faust.types import TP, EventT, Message, StreamT
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from base.metrics import PIPELINE_SECONDS, STAGE_SECONDS

LATENCY_EVERY = 16


class WorkerSensor(Sensor):
    def __init__(self, app: faust.App, registry: CollectorRegistry, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seen = 0
        r = registry
        self.messages_in = Counter(
            "footfall_worker_messages",
            "Messages the worker's consumer received, by topic.",
            ["topic"],
            registry=r,
        )
        self.sent = Counter(
            "footfall_worker_sent_messages",
            "Messages sent through Faust topics (the DLQ, hand-overs), by topic.",
            ["topic"],
            registry=r,
        )
        self.send_errors = Counter("footfall_worker_send_errors", "Sends that failed.", registry=r)
        self.latency = Histogram(
            "footfall_worker_event_latency_seconds",
            "From a message's Kafka timestamp (the collector's produce for events, the "
            "identity step's for events.identified) to the end of its processing into the "
            f"live profile; one message in {LATENCY_EVERY}.",
            ["topic"],
            buckets=PIPELINE_SECONDS,
            registry=r,
        )
        self.commit_seconds = Histogram(
            "footfall_worker_commit_seconds",
            "Time of one offset commit of the worker's consumer.",
            buckets=STAGE_SECONDS,
            registry=r,
        )
        self.rebalances = Counter(
            "footfall_worker_rebalances", "Rebalances the worker went through.", registry=r
        )
        self.topic_buffer_full = Counter(
            "footfall_worker_topic_buffer_full",
            "Times a stream's buffer was full and the consumer had to wait, by topic.",
            ["topic"],
            registry=r,
        )
        buffer = Gauge(
            "footfall_worker_producer_buffer_messages",
            "Messages waiting in Faust's producer buffer (Faust warns 'producer buffer full' "
            "past 100).",
            registry=r,
        )
        buffer.set_function(lambda: float(app.producer.buffer.size))

    def on_message_in(self, tp: TP, offset: int, message: Message) -> None:
        self.messages_in.labels(tp.topic).inc()

    def on_stream_event_out(
        self,
        tp: TP,
        offset: int,
        stream: StreamT[Any],
        event: EventT[Any],
        state: dict[str, Any] | None = None,
    ) -> None:
        self.seen += 1
        if self.seen % LATENCY_EVERY == 0:
            stamp = event.message.timestamp
            if stamp:
                self.latency.labels(tp.topic).observe(max(time.time() - stamp, 0.0))

    def on_topic_buffer_full(self, tp: TP) -> None:
        self.topic_buffer_full.labels(tp.topic).inc()

    def on_commit_initiated(self, consumer: Any) -> float:
        return time.perf_counter()

    def on_commit_completed(self, consumer: Any, state: Any) -> None:
        if isinstance(state, float):
            self.commit_seconds.observe(time.perf_counter() - state)

    def on_send_initiated(
        self, producer: Any, topic: str, message: Any, keysize: int, valsize: int
    ) -> None:
        self.sent.labels(topic).inc()

    def on_send_error(self, producer: Any, exc: BaseException, state: Any) -> None:
        self.send_errors.inc()

    def on_rebalance_start(self, app: Any) -> dict[str, Any]:
        self.rebalances.inc()
        return {}
