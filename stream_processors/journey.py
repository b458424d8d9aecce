"""The journey state machine: which stage a profile is in after an event. Pure."""

from __future__ import annotations

from schemas.events import Envelope
from schemas.profile import Profile, Stage, StageTransition

ENGAGED_PAGE_VIEWS = 3
REPEAT_ORDERS = 2


def stage_of(profile: Profile) -> Stage:
    """The stage that a profile's figures put it in."""
    if profile.orders >= REPEAT_ORDERS:
        return "repeat_customer"
    if profile.orders == 1:
        return "customer"
    if profile.counts.get("cart_add", 0) > 0:
        return "cart"
    views = profile.counts.get("page_view", 0) + profile.counts.get("product_view", 0)
    if views >= ENGAGED_PAGE_VIEWS or profile.session_count >= 2:
        return "engaged"
    return "visitor"


def next_stage(profile: Profile, event: Envelope | None) -> StageTransition | None:
    """The transition that ``profile`` (already updated) makes, or None if it stays."""
    target = stage_of(profile)
    if target == profile.stage:
        return None
    at = event.occurred_at if event is not None else profile.last_seen
    assert at is not None, "a profile with a stage change has seen an event"
    return StageTransition(
        site_id=profile.site_id,
        profile_id=profile.profile_id,
        from_stage=profile.stage,
        to_stage=target,
        cause=getattr(event, "type", "merge"),
        event_id=str(event.event_id) if event is not None else None,
        at=at,
    )


def enter(profile: Profile, transition: StageTransition) -> Profile:
    return profile.model_copy(update={"stage": transition.to_stage, "stage_since": transition.at})
