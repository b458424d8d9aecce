"""Retry decisions, backoff, Retry-After and disabling, as pure functions."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from schemas.webhooks import Delivery
from webhooks.policy import AttemptResult, backoff_s, decide, retry_after_s, streak_disables
from webhooks.settings import DeliveryPolicy

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
POLICY = DeliveryPolicy(backoff_base_s=30, backoff_max_s=3600, jitter=0.5, max_attempts=5)


def delivery(attempt: int = 1, max_attempt: int = 5) -> Delivery:
    return Delivery(
        delivery_id="msg_1",
        subscription_id="crm",
        site_id="shop",
        kind="order.placed",
        body="{}",
        attempt=attempt,
        max_attempt=max_attempt,
        next_attempt_at=NOW,
        created_at=NOW,
    )


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    rng = random.Random(7)
    for attempt, full in [(1, 30), (2, 60), (3, 120), (8, 3600), (20, 3600)]:
        delays = [backoff_s(attempt, POLICY, rng) for _ in range(200)]
        assert all(full * 0.5 <= d <= full for d in delays)
        assert max(delays) - min(delays) > full * 0.3  # jittered, not constant


def test_success_is_delivered() -> None:
    decision = decide(delivery(), AttemptResult(204, 5.0), POLICY, NOW, random.Random(1))
    assert decision.action == "delivered"


def test_a_failure_is_retried_later_until_the_last_attempt() -> None:
    failed = AttemptResult(500, 5.0, "HTTP 500")
    retry = decide(delivery(attempt=2), failed, POLICY, NOW, random.Random(1))
    assert retry.action == "retry"
    assert retry.next_attempt_at is not None
    assert NOW + timedelta(seconds=30) <= retry.next_attempt_at <= NOW + timedelta(seconds=60)
    assert decide(delivery(attempt=5), failed, POLICY, NOW, random.Random(1)).action == "dead"


def test_retry_after_is_honoured_on_429_and_503() -> None:
    for status in (429, 503):
        result = AttemptResult(status, 1.0, retry_after="600")
        decision = decide(delivery(), result, POLICY, NOW, random.Random(1))
        assert decision.next_attempt_at == NOW + timedelta(seconds=600)
    http_date = "Tue, 24 Nov 2026 09:02:00 GMT"
    assert retry_after_s(http_date, NOW) == 120
    assert retry_after_s("soon", NOW) is None


def test_410_gone_kills_the_delivery_and_disables_the_endpoint() -> None:
    decision = decide(delivery(), AttemptResult(410, 1.0), POLICY, NOW, random.Random(1))
    assert decision.action == "dead"
    assert decision.disable is not None
    assert "410" in decision.disable


def test_a_refused_url_is_not_retried() -> None:
    refused = AttemptResult(0, 0.0, "refused: loopback", refused=True)
    assert decide(delivery(), refused, POLICY, NOW, random.Random(1)).action == "dead"


@pytest.mark.parametrize(
    ("failures", "hours", "disabled"),
    [(49, 48, False), (50, 23, False), (50, 24, True), (500, 30, True)],
)
def test_consecutive_failures_over_a_period_disable(
    failures: int, hours: int, disabled: bool
) -> None:
    policy = DeliveryPolicy(disable_after_failures=50, disable_after_s=24 * 3600)
    first = NOW - timedelta(hours=hours)
    assert (streak_disables(failures, first, NOW, policy) is not None) is disabled
