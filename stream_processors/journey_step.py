"""One step of a profile's journey: timers due, the stage after an event, segments. Pure.

The worker calls :func:`after_tick` with an event's time before folding the event in (timers
that fell due before it fire first, at their own time), :func:`after_event` once the event (or
a merge) is folded in, and :func:`after_tick` again when its timer scan finds the profile due.
Both return the profile with
its new stage, timer and segments, and the transitions and segment changes to publish. Every
time in the output comes from the input (event times and due times), so a replay gives
identical rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from schemas.profile import Profile, StageTransition
from schemas.segments import SegmentChange
from stream_processors.journey import JourneyRules, advance, fire_timers
from stream_processors.rules import DEFAULT_RULES, ProfileRules
from stream_processors.scores import recency_changes
from stream_processors.segments import SegmentConfig, load_config, update_segments

SEGMENT_TIMER = "timer:segments"
CART_WINDOW = timedelta(hours=24)  # the window of ``cart_adds_24h``
Step = tuple[Profile, list[StageTransition], list[SegmentChange]]
Figures = Callable[[Profile, datetime], Mapping[str, Any]]


def no_figures(profile: Profile, at: datetime) -> Mapping[str, Any]:
    return {}


@dataclass(frozen=True)
class JourneyConfig:
    """The stage thresholds, the segment rules, the profile rules (the RFM bands and price
    tier cut points, shared with the published figures) and the figures segments may use."""

    rules: JourneyRules = field(default_factory=JourneyRules)
    segments: SegmentConfig = field(default_factory=load_config)
    profile_rules: ProfileRules = field(default_factory=lambda: DEFAULT_RULES)
    figures: Figures = no_figures


def after_event(
    profile: Profile,
    kind: str | None,
    at: datetime,
    event_id: str | None,
    config: JourneyConfig,
) -> Step:
    """After an event of ``kind`` at ``at`` (``kind`` None: a merge) was folded in."""
    profile, transitions = advance(profile, kind, at, event_id, config.rules)
    profile, changes = segments_at(profile, at, kind or "merge", event_id, config)
    return profile, transitions, changes


def after_tick(profile: Profile, now: datetime, config: JourneyConfig) -> Step:
    """Timer transitions due by ``now``; segments re-evaluated at the last one's time, then
    at every time-based segment check due by ``now`` (each at its own time)."""
    profile, transitions = fire_timers(profile, now, config.rules)
    changes: list[SegmentChange] = []
    if transitions:
        last = transitions[-1]
        profile, changes = segments_at(profile, last.at, last.cause, None, config)
    while profile.segments_due_at is not None and profile.segments_due_at <= now:
        profile, more = segments_at(profile, profile.segments_due_at, SEGMENT_TIMER, None, config)
        changes += more
    return profile, transitions, changes


def segments_at(
    profile: Profile, at: datetime, cause: str, event_id: str | None, config: JourneyConfig
) -> tuple[Profile, list[SegmentChange]]:
    """Segments as of ``at``, and when time alone may change them next."""
    profile, changes = update_segments(
        profile,
        at,
        cause,
        event_id,
        config.segments,
        config.profile_rules,
        config.figures(profile, at),
    )
    check = next_segment_check(profile, at, config)
    if check != profile.segments_due_at:
        profile = profile.model_copy(update={"segments_due_at": check})
    return profile, changes


def next_segment_check(profile: Profile, at: datetime, config: JourneyConfig) -> datetime | None:
    """The first moment after ``at`` when a time-based figure crosses a threshold: a cart add
    leaving the last 24 hours, or the last order ageing past a recency cut point."""
    if profile.merged_into is not None:
        return None
    moments = [t + CART_WINDOW for t in profile.recent_cart_adds]
    if profile.last_order_at is not None:
        moments += recency_changes(profile.last_order_at, config.profile_rules.recency_bands_days)
    return min((m for m in moments if m > at), default=None)


def earliest_due(stored: Mapping[str, Any]) -> str | None:
    """The earliest of a stored profile's stage timer and segment check (ISO text)."""
    dues = [d for d in (stored.get("due_at"), stored.get("segments_due_at")) if isinstance(d, str)]
    return min(dues, key=datetime.fromisoformat, default=None)


def is_due(stored_due: Any, now: datetime) -> bool:
    """Whether a due time kept in the table (ISO text or None) has passed by ``now``."""
    if not isinstance(stored_due, str):
        return False
    return datetime.fromisoformat(stored_due) <= now
