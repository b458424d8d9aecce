"""Per-endpoint delivery metrics, served at ``/metrics`` in the Prometheus text format."""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric

from schemas.webhooks import Subscription

RATIO_WINDOW = 200


class DeliveryMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.attempts = Counter(
            "footfall_webhook_attempts",
            "Delivery attempts by endpoint and result (delivered, failed, dead).",
            ["subscription", "result"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "footfall_webhook_latency_seconds",
            "Time from sending a webhook to its response, by endpoint.",
            ["subscription"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )
        self.success_ratio = Gauge(
            "footfall_webhook_success_ratio",
            f"Share of the endpoint's last {RATIO_WINDOW} attempts that succeeded.",
            ["subscription"],
            registry=self.registry,
        )
        self.backlog = Gauge(
            "footfall_webhook_backlog",
            "Deliveries held for the endpoint: waiting, in flight or scheduled for a retry.",
            ["subscription"],
            registry=self.registry,
        )
        self.input_records = Counter(
            "footfall_webhook_input_records",
            "Records read from the input topics.",
            ["topic"],
            registry=self.registry,
        )
        self.recent: dict[str, deque[bool]] = defaultdict(lambda: deque(maxlen=RATIO_WINDOW))

    def observe(self, subscription: str, result: str, latency_ms: float) -> None:
        self.attempts.labels(subscription, result).inc()
        self.latency.labels(subscription).observe(latency_ms / 1000)
        window = self.recent[subscription]
        window.append(result == "delivered")
        self.success_ratio.labels(subscription).set(sum(window) / len(window))


class SubscriptionCollector:
    """``footfall_webhook_subscription_enabled`` (1 or 0) per subscription, read at each
    scrape: an endpoint the dispatcher disabled (410 Gone, a failure streak) shows at once."""

    def __init__(self, subscriptions: Callable[[], list[Subscription]]) -> None:
        self.subscriptions = subscriptions

    def describe(self) -> Iterator[Metric]:
        return self.families([])

    def collect(self) -> Iterator[Metric]:
        return self.families(self.subscriptions())

    def families(self, subscriptions: list[Subscription]) -> Iterator[Metric]:
        enabled = GaugeMetricFamily(
            "footfall_webhook_subscription_enabled",
            "1 while the subscription is enabled, 0 once disabled.",
            labels=["subscription"],
        )
        for subscription in subscriptions:
            enabled.add_metric([subscription.id], 1 if subscription.enabled else 0)
        yield enabled
