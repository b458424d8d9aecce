"""Pure profile logic: ``apply_event(profile, event) -> profile`` and merging."""

from __future__ import annotations

from decimal import Decimal

from schemas.events import Envelope, OrderPlaced, OrderRefunded
from schemas.profile import Profile

SEEN_IDS_KEPT = 512
SESSIONS_KEPT = 16


def new_profile(site_id: str, profile_id: str) -> Profile:
    return Profile(site_id=site_id, profile_id=profile_id)


def already_applied(profile: Profile, event_id: str) -> bool:
    return event_id in profile.seen_ids


def remember(ids: list[str], new: str, keep: int) -> list[str]:
    """A bounded list of the most recent ids, oldest first."""
    if new in ids:
        return ids
    return [*ids, new][-keep:]


def apply_event(profile: Profile, event: Envelope) -> Profile:
    """The profile after ``event``; applying the same event twice changes nothing."""
    event_id = str(event.event_id)
    if already_applied(profile, event_id):
        return profile
    kind = getattr(event, "type", "custom")
    counts = dict(profile.counts)
    counts[kind] = counts.get(kind, 0) + 1
    changes: dict[str, object] = {
        "version": profile.version + 1,
        "event_count": profile.event_count + 1,
        "counts": counts,
        "seen_ids": remember(profile.seen_ids, event_id, SEEN_IDS_KEPT),
        "first_seen": min(filter(None, [profile.first_seen, event.occurred_at])),
        "last_seen": max(filter(None, [profile.last_seen, event.occurred_at])),
        "anonymous_ids": remember(profile.anonymous_ids, event.anonymous_id, 32),
        "stage_since": profile.stage_since or event.occurred_at,
    }
    if event.customer_id:
        changes["customer_id"] = event.customer_id
    if event.session_id and event.session_id not in profile.sessions:
        changes["sessions"] = remember(profile.sessions, event.session_id, SESSIONS_KEPT)
        changes["session_count"] = profile.session_count + 1
    if isinstance(event, OrderPlaced):
        changes |= order_changes(profile, event)
    elif isinstance(event, OrderRefunded):
        changes["revenue"] = max(Decimal(0), profile.revenue - event.properties.amount)
    return profile.model_copy(update=changes)


def order_changes(profile: Profile, event: OrderPlaced) -> dict[str, object]:
    at = event.occurred_at
    return {
        "orders": profile.orders + 1,
        "revenue": profile.revenue + event.properties.total,
        "currency": profile.currency or event.properties.currency,
        "first_order_at": min(filter(None, [profile.first_order_at, at])),
        "last_order_at": max(filter(None, [profile.last_order_at, at])),
    }


def merge_profiles(into: Profile, other: Profile) -> Profile:
    """Fold an anonymous profile into a customer's: counts add up, first seen is earliest."""
    counts = dict(into.counts)
    for kind, number in other.counts.items():
        counts[kind] = counts.get(kind, 0) + number
    sessions = list(into.sessions)
    for session in other.sessions:
        sessions = remember(sessions, session, SESSIONS_KEPT)
    seen = list(into.seen_ids)
    for event_id in other.seen_ids:
        seen = remember(seen, event_id, SEEN_IDS_KEPT)
    anonymous_ids = list(into.anonymous_ids)
    for anonymous_id in other.anonymous_ids:
        anonymous_ids = remember(anonymous_ids, anonymous_id, 32)
    return into.model_copy(
        update={
            "version": into.version + 1,
            "event_count": into.event_count + other.event_count,
            "counts": counts,
            "sessions": sessions,
            "session_count": into.session_count + other.session_count,
            "seen_ids": seen,
            "anonymous_ids": anonymous_ids,
            "first_seen": min(filter(None, [into.first_seen, other.first_seen]), default=None),
            "last_seen": max(filter(None, [into.last_seen, other.last_seen]), default=None),
            "orders": into.orders + other.orders,
            "revenue": into.revenue + other.revenue,
            "currency": into.currency or other.currency,
            "first_order_at": min(
                filter(None, [into.first_order_at, other.first_order_at]), default=None
            ),
            "last_order_at": max(
                filter(None, [into.last_order_at, other.last_order_at]), default=None
            ),
        }
    )


def absorb(into: Profile, other: Profile, merge_id: str) -> Profile:
    """``into`` after folding ``other`` in; the same merge applied twice changes nothing."""
    if already_applied(into, merge_id):
        return into
    merged = merge_profiles(into, other)
    seen = remember(merged.seen_ids, merge_id, SEEN_IDS_KEPT)
    return merged.model_copy(update={"seen_ids": seen, "customer_id": into.profile_id})
