"""One message of the re-keyed topic applied to its profile. Pure.

``step(before, message, config, now, clock) -> Outcome`` is everything the profile agent
decides: the profile after the message, the records it leads to (journey transitions,
segment changes, the hand-over of a merged profile), whether its snapshot is urgent, or that
the message was applied before (a replay: its kept records are sent again). The agent
(:mod:`stream_processors.worker`) only reads the table, sends what the step returns and
stores the profile.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from schemas.consent import describe
from schemas.events import OrderPlaced, OrderRefunded
from schemas.privacy import AuditRecord, subject
from schemas.profile import Profile, StageTransition
from schemas.segments import SegmentChange
from stream_processors.identity import absorb_message, table_key
from stream_processors.journey_step import JourneyConfig, after_event, after_tick
from stream_processors.merging import absorb
from stream_processors.messages import (
    AbsorbMessage,
    EventMessage,
    MergeMessage,
    Message,
    TickMessage,
)
from stream_processors.outbox import Record, message_id, recorded, to_resend
from stream_processors.profile import already_applied, apply_event, new_profile
from stream_processors.rules import DEFAULT_RULES, ProfileRules
from stream_processors.segments import leave_all


@dataclass(frozen=True)
class StepConfig:
    journey: JourneyConfig = field(default_factory=JourneyConfig)
    rules: ProfileRules = field(default_factory=lambda: DEFAULT_RULES)


@dataclass(frozen=True)
class Applied:
    """The message changed the profile (or only its timers and published state)."""

    after: Profile
    records: list[Record]
    urgent: bool = False

    def changed(self, before: Profile) -> bool:
        return self.after.version != before.version


@dataclass(frozen=True)
class Replayed:
    """The message was applied before: send its kept records and a snapshot again."""

    records: list[Record]


Outcome = Applied | Replayed


def step(
    before: Profile, message: Message, config: StepConfig, now: datetime, clock: float
) -> Outcome:
    """What ``message`` does to the profile ``before``; ``now`` stands in for missing event
    times, ``clock`` (wall seconds) dates the outbox entry."""
    ident = message_id(message)
    if isinstance(message, EventMessage):
        if already_applied(before, str(message.event.event_id), message.source):
            return Replayed(to_resend(before.outbox, ident) or [])
        return saved(before, *event_step(before, message, config), ident, clock)
    kept = to_resend(before.outbox, ident)
    if kept is not None:
        return Replayed(kept)
    if isinstance(message, TickMessage):
        after, transitions, changes = after_tick(before, message.now, config.journey)
        if after != before and after.version == before.version:
            after = after.model_copy(update={"version": before.version + 1})  # next check
        return saved(
            before, after, journey_records(message, transitions, changes), False, ident, clock
        )
    if isinstance(message, MergeMessage):
        return merge_step(before, message, now, ident, clock)
    return absorb_step(before, message, config, now, ident, clock)


def event_step(
    before: Profile, message: EventMessage, config: StepConfig
) -> tuple[Profile, list[Record], bool]:
    event = message.event
    current = revived(before) if before.merged_into is not None else before
    # Timers that fell due before this event fire first, at their own time.
    current, transitions, changes = after_tick(current, event.occurred_at, config.journey)
    current = apply_event(current, event, message.source, config.rules)
    current, more_transitions, more_changes = after_event(
        current, event.type, event.occurred_at, str(event.event_id), config.journey
    )
    records = journey_records(message, transitions + more_transitions, changes + more_changes)
    if current.consent != before.consent:
        records.append(consent_audit(message, current))
        return current, records, True  # a withdrawal reaches the dispatcher at once
    return current, records, isinstance(event, (OrderPlaced, OrderRefunded))


def consent_audit(message: EventMessage, after: Profile) -> Record:
    """The audit row of a consent change: the profile by its subject, never by its id."""
    event = message.event
    record = AuditRecord(
        at=event.received_at or event.occurred_at,
        actor="shopper",
        action="consent.changed",
        site_id=message.site_id,
        target=subject(message.site_id, message.profile_id),
        detail=describe(after.consent),
    )
    return ("audit", record.action, record.model_dump_json())


def merge_step(
    before: Profile, message: MergeMessage, now: datetime, ident: str, clock: float
) -> Outcome:
    """Hand the anonymous profile over to its customer, once."""
    if before.version == 0 or before.merged_into is not None:
        return Applied(before, [])
    handover = absorb_message(message.site_id, message.into, before, message.merge_id)
    gone = before.model_copy(
        update={"merged_into": message.into, "segments": [], "version": before.version + 1}
    )
    changes = leave_all(before, before.last_seen or before.first_seen or now, "merged")
    records = journey_records(message, [], changes)
    records.append(("identified", table_key(message.site_id, message.into), handover.decode()))
    return saved(before, gone, records, True, ident, clock)


def absorb_step(
    before: Profile,
    message: AbsorbMessage,
    config: StepConfig,
    now: datetime,
    ident: str,
    clock: float,
) -> Outcome:
    merged = absorb(before, message.profile, message.merge_id, config.rules.dedup_window_days)
    if merged is before:
        return Replayed(to_resend(before.outbox, ident) or [])
    after, transitions, changes = after_event(
        merged, None, merged.last_seen or now, message.merge_id, config.journey
    )
    return saved(before, after, journey_records(message, transitions, changes), True, ident, clock)


def journey_records(
    message: Message, transitions: list[StageTransition], changes: list[SegmentChange]
) -> list[Record]:
    key = table_key(message.site_id, message.profile_id)
    records: list[Record] = [("journey", key, t.model_dump_json()) for t in transitions]
    records += [("segments", key, change.model_dump_json()) for change in changes]
    return records


def saved(
    before: Profile,
    after: Profile,
    records: list[Record],
    urgent: bool,
    ident: str,
    clock: float,
) -> Applied:
    """The outcome with a new version whenever anything was sent, and the records kept in
    the outbox for a replay."""
    if records and after.version == before.version:
        after = after.model_copy(update={"version": after.version + 1})
    if after.version != before.version:
        outbox = recorded(after.outbox, ident, records, clock)
        if outbox is not after.outbox:
            after = after.model_copy(update={"outbox": outbox})
    return Applied(after, records, urgent)


def revived(profile: Profile) -> Profile:
    """A fresh anonymous profile that still remembers which events it has applied."""
    fresh = new_profile(profile.site_id, profile.profile_id)
    return fresh.model_copy(
        update={
            "offsets": profile.offsets,
            "seen": profile.seen,
            "outbox": profile.outbox,
            "version": profile.version + 1,
            "published_version": profile.published_version,
        }
    )


def load(value: dict[str, object] | None, site_id: str, profile_id: str) -> Profile:
    """The profile as stored in the table (a new one when there is none)."""
    if value is None:
        return new_profile(site_id, profile_id)
    return Profile.model_validate(value)
