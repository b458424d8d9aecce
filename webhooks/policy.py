"""What happens after an attempt: delivered, retried later, or dead. Pure functions."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Literal

from schemas.webhooks import Delivery
from webhooks.settings import DeliveryPolicy

RETRY_AFTER_STATUSES = frozenset({429, 503})


@dataclass(frozen=True)
class AttemptResult:
    """What one HTTP attempt gave: a status (0 without a response) or an error."""

    status: int
    latency_ms: float
    error: str = ""
    retry_after: str | None = None
    refused: bool = False
    """The URL was refused before sending (SSRF check): retrying cannot help."""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass(frozen=True)
class Decision:
    action: Literal["delivered", "retry", "dead"]
    next_attempt_at: datetime | None = None
    disable: str | None = None
    """Set when the subscription must be disabled, with the reason."""


def backoff_s(attempt: int, policy: DeliveryPolicy, rng: random.Random) -> float:
    """Delay after failed attempt ``attempt``: exponential, capped, with jitter."""
    delay: float = min(policy.backoff_base_s * 2.0 ** max(attempt - 1, 0), policy.backoff_max_s)
    return delay * (1 - policy.jitter * rng.random())


def retry_after_s(header: str | None, now: datetime) -> float | None:
    """Seconds asked for by a ``Retry-After`` header (delta seconds or an HTTP date)."""
    if not header:
        return None
    header = header.strip()
    if header.isdigit():
        return float(header)
    try:
        when = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    return max((when - now).total_seconds(), 0.0)


def decide(
    delivery: Delivery,
    result: AttemptResult,
    policy: DeliveryPolicy,
    now: datetime,
    rng: random.Random,
) -> Decision:
    if result.ok:
        return Decision("delivered")
    if result.status == 410:
        return Decision("dead", disable="endpoint answered 410 Gone")
    if result.refused or delivery.attempt >= delivery.max_attempt:
        return Decision("dead")
    delay = backoff_s(delivery.attempt, policy, rng)
    if result.status in RETRY_AFTER_STATUSES:
        asked = retry_after_s(result.retry_after, now)
        if asked is not None:
            delay = min(max(asked, 0.0), policy.retry_after_max_s)
    return Decision("retry", next_attempt_at=now + timedelta(seconds=delay))


def streak_disables(
    failures: int, first_failure_at: datetime | None, now: datetime, policy: DeliveryPolicy
) -> str | None:
    """Reason to disable an endpoint after a run of consecutive failures, or ``None``."""
    if failures < policy.disable_after_failures or first_failure_at is None:
        return None
    if (now - first_failure_at).total_seconds() < policy.disable_after_s:
        return None
    return f"{failures} consecutive failures since {first_failure_at.isoformat()}"
