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
from datetime import datetime
from typing import Any

from schemas.profile import Profile, StageTransition
from schemas.segments import SegmentChange
from stream_processors.journey import JourneyRules, advance, fire_timers
from stream_processors.segments import SegmentConfig, load_config, update_segments

Step = tuple[Profile, list[StageTransition], list[SegmentChange]]
Figures = Callable[[Profile, datetime], Mapping[str, Any]]


def no_figures(profile: Profile, at: datetime) -> Mapping[str, Any]:
    return {}


@dataclass(frozen=True)
class JourneyConfig:
    """The stage thresholds, the segment rules and the figures segments may use."""

    rules: JourneyRules = field(default_factory=JourneyRules)
    segments: SegmentConfig = field(default_factory=load_config)
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
    """Timer transitions due by ``now``; segments re-evaluated at the last one's time."""
    profile, transitions = fire_timers(profile, now, config.rules)
    if not transitions:
        return profile, [], []
    last = transitions[-1]
    profile, changes = segments_at(profile, last.at, last.cause, None, config)
    return profile, transitions, changes


def segments_at(
    profile: Profile, at: datetime, cause: str, event_id: str | None, config: JourneyConfig
) -> tuple[Profile, list[SegmentChange]]:
    return update_segments(
        profile, at, cause, event_id, config.segments, config.figures(profile, at)
    )


def is_due(stored_due: Any, now: datetime) -> bool:
    """Whether a due time kept in the table (ISO text or None) has passed by ``now``."""
    if not isinstance(stored_due, str):
        return False
    return datetime.fromisoformat(stored_due) <= now
