"""Whether the stack kept up with an offered event rate, and which rate to offer next. Pure.

``footfall bench stack`` offers load at a fixed rate for a window and samples how far each
consumer is behind (consumer lag in offsets, and accepted events not yet in ClickHouse). A
stack that keeps up holds every backlog bounded: it does not grow from the first half of the
window to the second (after the opening fifth, where every backlog climbs from nothing to
its steady level), and it ends small. A stack that falls behind shows a backlog growing by
the deficit every second, so the medians of the two halves drift apart by about half the
window times the deficit; medians rather than means, so one slow insert does not decide it.

The search doubles the rate while the stack keeps up, then bisects between the highest rate
kept up with and the lowest that was not. A failure counts against every rate at or above
it, so a later, longer run that fails at a rate once passed moves the answer down.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

RATE_STEP = 10
"""Rates are whole multiples of this many events/s: finer steps are below the noise here."""


@dataclass(frozen=True)
class LagSample:
    """How far behind each consumer was, ``at`` seconds into the window."""

    at: float
    lags: Mapping[str, int]
    """Backlog by name (``worker``, ``sink``, ``store``, …); a name missing was not read."""


@dataclass(frozen=True)
class Limits:
    """What "kept up" allows, in seconds of the offered rate (so it scales with the load)."""

    end_lag_s: float = 10.0
    """The last reading of every backlog must be under this many seconds of load."""
    growth_s: float = 2.0
    """The second half's median may exceed the first half's by at most this much."""
    settle_share: float = 0.2
    """The opening share of the window left out: every backlog climbs from nothing to its
    steady level there, which would read as growth."""
    min_sent_share: float = 0.97
    """The sender must have offered at least this share of the rate (else the collector or
    the machine, not the consumers, was the limit)."""
    min_samples: int = 4
    """Fewer readings than this in either half: no verdict can be given, so not kept up."""


@dataclass(frozen=True)
class Verdict:
    kept_up: bool
    reasons: tuple[str, ...]
    """Why not (empty when kept up)."""
    first_half: Mapping[str, int]
    second_half: Mapping[str, int]
    end: Mapping[str, int]


def halves(
    samples: Sequence[LagSample], window_s: float, settle_share: float = 0.0
) -> tuple[list[LagSample], list[LagSample]]:
    """The samples of the two halves of the window after its opening ``settle_share``."""
    start = settle_share * window_s
    middle = (start + window_s) / 2
    first = [s for s in samples if start <= s.at < middle]
    return first, [s for s in samples if s.at >= middle]


def medians(samples: Sequence[LagSample]) -> dict[str, int]:
    names = sorted({name for s in samples for name in s.lags})
    return {
        name: int(statistics.median(s.lags[name] for s in samples if name in s.lags))
        for name in names
    }


def verdict(
    samples: Sequence[LagSample],
    rate: float,
    window_s: float,
    sent: int,
    errors: int,
    limits: Limits | None = None,
) -> Verdict:
    """Did the stack keep up with ``rate`` events/s over a window of ``window_s`` seconds in
    which ``sent`` events were sent and ``errors`` requests failed or were never sent?"""
    limits = limits or Limits()
    first, second = halves(samples, window_s, limits.settle_share)
    early, late = medians(first), medians(second)
    end = dict(samples[-1].lags) if samples else {}
    reasons: list[str] = []
    if len(first) < limits.min_samples or len(second) < limits.min_samples:
        reasons.append(f"too few lag readings ({len(first)} + {len(second)})")
    if errors:
        reasons.append(f"{errors} requests failed")
    if sent < limits.min_sent_share * rate * window_s:
        reasons.append(f"sent {sent / window_s:,.0f} events/s of {rate:,.0f}")
    for name, lag in sorted(late.items()):
        growth = lag - early.get(name, 0)
        if growth > limits.growth_s * rate:
            reasons.append(f"{name} lag grew by {growth:,}")
    for name, lag in sorted(end.items()):
        if lag > limits.end_lag_s * rate:
            reasons.append(f"{name} lag ended at {lag:,}")
    return Verdict(not reasons, tuple(reasons), early, late, end)


@dataclass(frozen=True)
class Trial:
    rate: int
    kept_up: bool


def bounds(trials: Sequence[Trial]) -> tuple[int | None, int | None]:
    """The highest rate kept up with below every failure, and the lowest failed rate."""
    failed = min((t.rate for t in trials if not t.kept_up), default=None)
    kept = [t.rate for t in trials if t.kept_up and (failed is None or t.rate < failed)]
    return max(kept, default=None), failed


def next_rate(
    trials: Sequence[Trial],
    start: int,
    ceiling: int,
    precision: float = 0.1,
    floor: int = RATE_STEP,
) -> int | None:
    """The rate to try next, or None when the search is done.

    Doubles from ``start`` (capped at ``ceiling``) until a rate fails; halves while even the
    lowest rate fails (down to ``floor``); then bisects until the failed rate is within
    ``precision`` of the kept one.
    """
    if not trials:
        return start
    kept, failed = bounds(trials)
    if failed is None:
        assert kept is not None
        return None if kept >= ceiling else min(2 * kept, ceiling)
    if kept is None:
        lower = rounded(failed / 2)
        return lower if floor <= lower < failed else None
    if failed - kept <= max(precision * kept, RATE_STEP):
        return None
    middle = rounded((kept + failed) / 2)
    return middle if kept < middle < failed else None


def rounded(rate: float) -> int:
    return max(RATE_STEP, round(rate / RATE_STEP) * RATE_STEP)
