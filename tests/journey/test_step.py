"""One journey step: timers before the event, the event's move, and the segments after."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.profile import Profile
from stream_processors.journey import JourneyRules
from stream_processors.journey_step import (
    JourneyConfig,
    after_event,
    after_tick,
    earliest_due,
    is_due,
)
from stream_processors.segments import (
    figures_used,
    load_config,
    memberships,
    parse_config,
)

T0 = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
CONFIG = JourneyConfig()


def carted() -> Profile:
    p = Profile(
        site_id="s",
        profile_id="p",
        stage="engaged",
        stage_since=T0,
        cart={"p1": 1},
        cart_updated_at=T0,
        recent_cart_adds=[T0],
    )
    return after_event(p, "cart_add", T0, "e1", CONFIG)[0]


def test_an_event_moves_the_stage_and_enters_segments_at_its_time() -> None:
    p = Profile(
        site_id="s", profile_id="p", stage="engaged", stage_since=T0, cart={"p1": 1},
        cart_updated_at=T0, recent_cart_adds=[T0],
    )  # fmt: skip
    p, transitions, changes = after_event(p, "cart_add", T0, "e1", CONFIG)
    assert [(t.to_stage, t.event_id) for t in transitions] == [("cart", "e1")]
    assert [(c.segment, c.change, c.at, c.event_id) for c in changes] == [
        ("high_intent", "entered", T0, "e1")
    ]
    assert p.segments == ["high_intent"]


def test_a_tick_abandons_the_cart_and_enters_cart_abandoner() -> None:
    p = carted()
    due = T0 + timedelta(minutes=CONFIG.rules.cart_abandoned_after_minutes)
    assert after_tick(p, due - timedelta(seconds=1), CONFIG) == (p, [], [])
    p, transitions, changes = after_tick(p, due + timedelta(days=3), CONFIG)
    assert [(t.to_stage, t.cause, t.at) for t in transitions] == [
        ("cart_abandoned", "timer:cart_abandoned", due)
    ]
    # Re-evaluated at the due time, then when the cart add leaves the last 24 hours.
    assert [(c.segment, c.change, c.at) for c in changes] == [
        ("cart_abandoner", "entered", due),
        ("high_intent", "exited", T0 + timedelta(hours=24)),
    ]
    assert p.segments == ["cart_abandoner"]
    assert p.segments_due_at is None


def test_timers_due_before_an_event_fire_first_at_their_own_time() -> None:
    p = carted()
    later = T0 + timedelta(days=2)
    p, timed, timed_changes = after_tick(p, later, CONFIG)
    folded = {"cart": {"p1": 2}, "cart_updated_at": later, "recent_cart_adds": [T0, later]}
    p, moved, changes = after_event(p.model_copy(update=folded), "cart_add", later, "e2", CONFIG)
    assert [(t.from_stage, t.to_stage, t.cause) for t in timed + moved] == [
        ("cart", "cart_abandoned", "timer:cart_abandoned"),
        ("cart_abandoned", "cart", "cart_add"),
    ]
    assert [(c.segment, c.change) for c in timed_changes + changes] == [
        ("cart_abandoner", "entered"),
        ("high_intent", "exited"),
        ("cart_abandoner", "exited"),
        ("high_intent", "entered"),
    ]


def test_a_replayed_step_gives_identical_output() -> None:
    p = carted()
    now = T0 + timedelta(days=1)
    assert after_tick(p, now, CONFIG) == after_tick(p, now, CONFIG)


def test_segments_can_use_the_profiles_published_figures() -> None:
    def figures(profile: Profile, at: datetime) -> dict[str, Any]:
        return {"views_7d": 12}

    segments = parse_config(
        {
            "segments": [
                {"name": "busy_premium", "all": ["views_7d >= 10", "price_tier == 'premium'"]}
            ]
        }
    )
    config = JourneyConfig(JourneyRules(), segments, figures=figures)
    p = Profile(site_id="s", profile_id="p", stage_since=T0, price_sum=500, price_count=2)
    assert after_event(p, "page_view", T0, "e", config)[0].segments == ["busy_premium"]
    assert memberships(p, T0, segments) == []


def test_due_times_kept_as_text_in_the_table_are_compared_as_times() -> None:
    now = datetime(2026, 10, 1, 12, 0, 0, 500000, tzinfo=UTC)
    assert is_due("2026-10-01T12:00:00Z", now)
    assert is_due("2026-10-01T14:00:00+02:00", now)
    assert not is_due("2026-10-01T12:00:01Z", now)
    assert not is_due(None, now)


def test_figures_are_needed_only_when_a_rule_reads_one() -> None:
    assert figures_used(load_config()) == frozenset()  # tiers and scores need no figures
    busy = parse_config({"segments": [{"name": "busy", "all": ["views_7d >= 10"]}]})
    assert figures_used(busy) == {"views_7d"}


def test_recency_segments_change_with_time_alone() -> None:
    p = Profile(
        site_id="s", profile_id="p", stage="customer", stage_since=T0, orders=1,
        revenue=40, last_order_at=T0, order_times=[T0],
    )  # fmt: skip
    p, _, _ = after_event(p, "order_placed", T0, "o1", CONFIG)
    assert p.segments == ["new_customers"]
    first_edge = T0 + timedelta(days=CONFIG.profile_rules.recency_bands_days[0])
    past_it = first_edge + timedelta(microseconds=1)  # a score holds at its cut point
    assert p.segments_due_at == past_it
    assert after_tick(p, first_edge, CONFIG)[2] == []
    p, _, changes = after_tick(p, past_it, CONFIG)
    assert [(c.segment, c.change, c.cause, c.at) for c in changes] == [
        ("new_customers", "exited", "timer:segments", past_it)
    ]


def test_the_scan_reads_the_earliest_due_time_of_a_stored_profile() -> None:
    stored = {"due_at": "2026-10-02T00:00:00Z", "segments_due_at": "2026-10-01T00:00:00Z"}
    assert earliest_due(stored) == "2026-10-01T00:00:00Z"
    assert earliest_due({"due_at": "2026-10-02T00:00:00Z"}) == "2026-10-02T00:00:00Z"
    assert earliest_due({}) is None
