"""The journey state machine: the stage a profile is in, moved by events and by timers. Pure.

On-ramp: visitor → engaged → considering → cart → checkout → customer → repeat_customer →
loyal. Off-ramps, moved by timers when nothing happens: cart_abandoned, checkout_abandoned,
at_risk (no order for k x the customer's own median interval between orders), churned, and
won_back when an at-risk or churned customer orders again. Every move is a
:class:`StageTransition` with from, to, cause and time; time spent per stage is kept.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from statistics import median

from pydantic import BaseModel, Field

from schemas.profile import Profile, Stage, StageTransition
from stream_processors.profile import short_id

BUYER_STAGES: frozenset[Stage] = frozenset({"customer", "repeat_customer", "loyal", "won_back"})
LAPSED_STAGES: frozenset[Stage] = frozenset({"at_risk", "churned"})
CART_STAGES: frozenset[Stage] = frozenset(
    {"cart", "checkout", "cart_abandoned", "checkout_abandoned"}
)
ABANDONED_STAGES: frozenset[Stage] = frozenset({"cart_abandoned", "checkout_abandoned"})
CUE_KINDS = frozenset({"cart_add", "cart_remove", "checkout_started"})
BROWSING_RANK: dict[Stage, int] = {"visitor": 0, "engaged": 1, "considering": 2}


class JourneyRules(BaseModel):
    """Thresholds of the state machine (settings: ``FOOTFALL_JOURNEY__<NAME>``)."""

    engaged_page_views: int = Field(default=3, ge=1)
    considering_category_views: int = Field(default=2, ge=1)
    cart_abandoned_after_minutes: float = Field(default=60, gt=0)
    checkout_abandoned_after_minutes: float = Field(default=30, gt=0)
    loyal_orders: int = Field(default=4, ge=2)
    at_risk_factor: float = Field(default=2.0, gt=0, description="x median order interval")
    churned_factor: float = Field(default=4.0, gt=0, description="x median order interval")
    one_time_buyer_at_risk_days: float = Field(default=45, gt=0)
    one_time_buyer_churned_days: float = Field(default=120, gt=0)


DEFAULT_RULES = JourneyRules()


def median_interval(profile: Profile) -> timedelta | None:
    times = profile.order_times
    if len(times) < 2:
        return None
    return timedelta(seconds=median((b - a).total_seconds() for a, b in itertools.pairwise(times)))


def lapse_after(profile: Profile, rules: JourneyRules, churn: bool) -> timedelta:
    """How long without an order before a buyer is at risk (or churned)."""
    interval = median_interval(profile)
    if interval is None or interval <= timedelta(0):
        days = rules.one_time_buyer_churned_days if churn else rules.one_time_buyer_at_risk_days
        return timedelta(days=days)
    return interval * (rules.churned_factor if churn else rules.at_risk_factor)


def browsing_stage(profile: Profile, rules: JourneyRules) -> Stage:
    if max(profile.category_views.values(), default=0) >= rules.considering_category_views:
        return "considering"
    views = profile.counts.get("page_view", 0) + profile.counts.get("product_view", 0)
    if views >= rules.engaged_page_views or profile.session_count >= 2:
        return "engaged"
    return "visitor"


def buyer_stage(profile: Profile, rules: JourneyRules) -> Stage:
    if profile.orders >= rules.loyal_orders:
        return "loyal"
    return "customer" if profile.orders == 1 else "repeat_customer"


def stage_after(
    profile: Profile, kind: str | None, rules: JourneyRules, late: bool = False
) -> Stage:
    """The stage ``profile`` (already updated by an event of ``kind``) belongs in.

    ``late``: a cart or checkout event older than the profile's stage cue (the latest one in
    event time). The stage then follows the cue, with the cart as it is now, so that the
    events, not their arrival order, decide it; a timer-made abandonment stays."""
    current = profile.stage
    if profile.orders > 0:
        if kind == "order_placed":
            return "won_back" if current in LAPSED_STAGES else buyer_stage(profile, rules)
        if current in BUYER_STAGES or current in LAPSED_STAGES:
            return current  # browsing neither promotes nor wins back a buyer; orders do
        return buyer_stage(profile, rules)
    if late and profile.stage_cue is not None:
        if current in ABANDONED_STAGES:
            return current
        kind = profile.stage_cue.kind
    if kind == "checkout_started":
        return "checkout"
    if kind in ("cart_add", "cart_remove"):
        return "cart" if profile.cart else browsing_stage(profile, rules)
    if current in CART_STAGES:
        return current
    found = browsing_stage(profile, rules)
    return found if BROWSING_RANK[found] >= BROWSING_RANK.get(current, 0) else current


def due_at(profile: Profile, rules: JourneyRules) -> datetime | None:
    """When the current stage times out, if it can."""
    stage = profile.stage
    if stage == "cart" and profile.cart_updated_at:
        return profile.cart_updated_at + timedelta(minutes=rules.cart_abandoned_after_minutes)
    if stage == "checkout" and profile.checkout_at:
        return profile.checkout_at + timedelta(minutes=rules.checkout_abandoned_after_minutes)
    if stage in BUYER_STAGES and profile.last_order_at:
        return profile.last_order_at + lapse_after(profile, rules, churn=False)
    if stage == "at_risk" and profile.last_order_at:
        return profile.last_order_at + lapse_after(profile, rules, churn=True)
    return None


TIMED_OUT: dict[Stage, Stage] = {
    "cart": "cart_abandoned",
    "checkout": "checkout_abandoned",
    "customer": "at_risk",
    "repeat_customer": "at_risk",
    "loyal": "at_risk",
    "won_back": "at_risk",
    "at_risk": "churned",
}
TIMER_NAMES: dict[Stage, str] = {
    "cart_abandoned": "timer:cart_abandoned",
    "checkout_abandoned": "timer:checkout_abandoned",
    "at_risk": "timer:no_order",
    "churned": "timer:no_order",
}


def move(
    profile: Profile, to: Stage, cause: str, at: datetime, event_id: str | None
) -> tuple[Profile, StageTransition]:
    """Enter ``to``: the time spent in the stage left is added to its total."""
    seconds = dict(profile.stage_seconds)
    if profile.stage_since is not None and at > profile.stage_since:
        spent = (at - profile.stage_since).total_seconds()
        seconds[profile.stage] = seconds.get(profile.stage, 0.0) + spent
    transition = StageTransition(
        site_id=profile.site_id,
        profile_id=profile.profile_id,
        from_stage=profile.stage,
        to_stage=to,
        cause=cause,
        event_id=event_id,
        at=at,
    )
    moved = profile.model_copy(update={"stage": to, "stage_since": at, "stage_seconds": seconds})
    return moved, transition


def advance(
    profile: Profile, kind: str | None, at: datetime, event_id: str | None, rules: JourneyRules
) -> tuple[Profile, list[StageTransition]]:
    """After an event (or a merge, ``kind`` None): move stage if needed and reset the timer."""
    transitions = []
    target = stage_after(profile, kind, rules, late=is_late(profile, kind, at, event_id))
    if target != profile.stage:
        profile, transition = move(profile, target, kind or "merge", at, event_id)
        transitions.append(transition)
    return profile.model_copy(update={"due_at": due_at(profile, rules)}), transitions


def is_late(profile: Profile, kind: str | None, at: datetime, event_id: str | None) -> bool:
    """A cart or checkout event older than the profile's stage cue."""
    cue = profile.stage_cue
    if kind not in CUE_KINDS or cue is None or event_id is None:
        return False
    return (at, short_id(event_id)) < (cue.at, cue.id)


def fire_timers(
    profile: Profile, now: datetime, rules: JourneyRules
) -> tuple[Profile, list[StageTransition]]:
    """Every timer transition due by ``now``, each at its own due time (replays agree)."""
    transitions = []
    while profile.due_at is not None and profile.due_at <= now:
        target = TIMED_OUT[profile.stage]
        profile, transition = move(profile, target, TIMER_NAMES[target], profile.due_at, None)
        profile = profile.model_copy(update={"due_at": due_at(profile, rules)})
        transitions.append(transition)
    return profile, transitions
