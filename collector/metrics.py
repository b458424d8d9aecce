"""Prometheus metrics of one collector process (one registry per app)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


def reason_kind(reason: str) -> str:
    """A bounded label for a rejection reason (the full text goes to the DLQ)."""
    if reason.startswith("unknown event type"):
        return "unknown_type"
    if reason.startswith("event must be"):
        return "not_an_object"
    if "unknown fields" in reason:
        return "too_many_extra_fields"
    return "invalid"


@dataclass
class CollectorMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.requests = Counter(
            "footfall_collector_requests", "HTTP requests", ["endpoint", "status"], registry=r
        )
        self.accepted = Counter(
            "footfall_collector_events_accepted",
            "Events acknowledged by Kafka",
            ["type", "topic"],
            registry=r,
        )
        self.rejected = Counter(
            "footfall_collector_events_rejected",
            "Events rejected (sent to the DLQ)",
            ["reason", "type"],
            registry=r,
        )
        self.duplicates = Counter(
            "footfall_collector_events_duplicate", "Events dropped as recent duplicates", registry=r
        )
        self.diverted = Counter(
            "footfall_collector_events_diverted",
            "Events acknowledged into the overflow topic, by reason (bot, flood, placeholder)",
            ["reason"],
            registry=r,
        )
        self.produce_seconds = Histogram(
            "footfall_collector_produce_seconds",
            "Time until Kafka acknowledged a request's records",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.in_flight = Gauge(
            "footfall_collector_in_flight", "Requests being handled (queue depth)", registry=r
        )
        self.throttled = Counter(
            "footfall_collector_throttled", "Requests answered 429", ["scope"], registry=r
        )
