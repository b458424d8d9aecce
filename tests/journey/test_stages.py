"""Every journey transition, event-driven and timer-driven, on plain profiles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from schemas.profile import Profile, Stage, StageTransition
from stream_processors.journey import (
    JourneyRules,
    advance,
    due_at,
    fire_timers,
    lapse_after,
    median_interval,
)

T0 = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
RULES = JourneyRules()


def profile(stage: Stage = "visitor", since: datetime = T0, **fields: Any) -> Profile:
    return Profile(site_id="s", profile_id="p", stage=stage, stage_since=since, **fields)


def after(p: Profile, kind: str | None, at: datetime = T0) -> tuple[Profile, list[tuple[str, str]]]:
    moved, transitions = advance(p, kind, at, "e1", RULES)
    return moved, [(t.from_stage, t.to_stage) for t in transitions]


# ------------------------------------------------------------------ on-ramp, by events


def test_a_first_page_view_keeps_a_visitor_a_visitor() -> None:
    _, moves = after(profile(counts={"page_view": 1}, session_count=1), "page_view")
    assert moves == []


def test_enough_page_views_make_a_visitor_engaged() -> None:
    p = profile(counts={"page_view": RULES.engaged_page_views}, session_count=1)
    assert after(p, "page_view")[1] == [("visitor", "engaged")]


def test_a_second_session_makes_a_visitor_engaged() -> None:
    assert after(profile(counts={"page_view": 1}, session_count=2), "page_view")[1] == [
        ("visitor", "engaged")
    ]


def test_product_views_in_one_category_make_a_profile_considering() -> None:
    p = profile("engaged", category_views={"tech": RULES.considering_category_views})
    assert after(p, "product_view")[1] == [("engaged", "considering")]


def test_views_spread_over_categories_are_not_considering() -> None:
    p = profile("engaged", category_views={"tech": 1, "garden": 1})
    assert after(p, "product_view")[1] == []


def test_browsing_never_moves_a_profile_back_down() -> None:
    p = profile("considering", counts={"page_view": 1}, session_count=1)
    assert after(p, "page_view")[1] == []


def test_a_cart_add_moves_to_cart() -> None:
    p = profile("engaged", cart={"p1": 1}, cart_updated_at=T0)
    assert after(p, "cart_add")[1] == [("engaged", "cart")]


def test_emptying_the_cart_goes_back_to_browsing() -> None:
    p = profile("cart", cart={}, counts={"page_view": 5})
    assert after(p, "cart_remove")[1] == [("cart", "engaged")]


def test_checkout_started_moves_to_checkout() -> None:
    p = profile("cart", cart={"p1": 1}, checkout_at=T0)
    assert after(p, "checkout_started")[1] == [("cart", "checkout")]


def test_a_first_order_makes_a_first_time_customer() -> None:
    p = profile("checkout", orders=1, last_order_at=T0 + timedelta(minutes=1))
    moved, moves = after(p, "order_placed", T0 + timedelta(minutes=1))
    assert moves == [("checkout", "customer")]
    assert moved.stage == "customer"


def test_an_order_without_any_browsing_makes_a_customer() -> None:
    p = profile("visitor", orders=1, last_order_at=T0)
    assert after(p, "order_placed")[1] == [("visitor", "customer")]


def test_a_second_order_makes_a_repeat_customer() -> None:
    at = T0 + timedelta(days=3)
    p = profile("customer", orders=2, last_order_at=at)
    assert after(p, "order_placed", at)[1] == [("customer", "repeat_customer")]


def test_enough_orders_make_a_loyal_customer() -> None:
    at = T0 + timedelta(days=30)
    p = profile("repeat_customer", orders=RULES.loyal_orders, last_order_at=at)
    assert after(p, "order_placed", at)[1] == [("repeat_customer", "loyal")]


def test_the_loyal_threshold_is_configurable() -> None:
    at = T0 + timedelta(days=3)
    rules = JourneyRules(loyal_orders=2)
    _, transitions = advance(
        profile("customer", orders=2, last_order_at=at), "order_placed", at, "e", rules
    )
    assert [t.to_stage for t in transitions] == ["loyal"]


def test_browsing_does_not_move_a_customer() -> None:
    p = profile("customer", orders=1, last_order_at=T0, cart={"p": 1}, cart_updated_at=T0)
    assert after(p, "cart_add", T0 + timedelta(days=1))[1] == []


# ------------------------------------------------------------------ off-ramps, by timers


def test_a_cart_left_alone_is_abandoned_by_the_timer_at_its_due_time() -> None:
    p, _ = after(profile("engaged", cart={"p1": 1}, cart_updated_at=T0), "cart_add")
    due = T0 + timedelta(minutes=RULES.cart_abandoned_after_minutes)
    assert p.due_at == due
    assert fire_timers(p, due - timedelta(seconds=1), RULES)[1] == []
    abandoned, transitions = fire_timers(p, due + timedelta(hours=5), RULES)
    assert [(t.from_stage, t.to_stage, t.cause, t.at) for t in transitions] == [
        ("cart", "cart_abandoned", "timer:cart_abandoned", due)
    ]
    assert transitions[0].event_id is None
    assert abandoned.due_at is None


def test_a_checkout_left_alone_is_abandoned_by_the_timer() -> None:
    p, _ = after(profile("cart", cart={"p1": 1}, checkout_at=T0), "checkout_started")
    due = T0 + timedelta(minutes=RULES.checkout_abandoned_after_minutes)
    _, transitions = fire_timers(p, due, RULES)
    assert [(t.to_stage, t.cause, t.at) for t in transitions] == [
        ("checkout_abandoned", "timer:checkout_abandoned", due)
    ]


def test_an_abandoned_cart_comes_back_to_cart_with_a_new_add() -> None:
    p = profile("cart_abandoned", cart={"p1": 2}, cart_updated_at=T0)
    assert after(p, "cart_add")[1] == [("cart_abandoned", "cart")]


def test_an_abandoned_checkout_ordering_makes_a_customer() -> None:
    p = profile("checkout_abandoned", orders=1, last_order_at=T0 + timedelta(hours=2))
    assert after(p, "order_placed", T0 + timedelta(hours=2))[1] == [
        ("checkout_abandoned", "customer")
    ]


def test_a_one_time_buyer_is_at_risk_then_churned_after_the_defaults() -> None:
    p, _ = after(profile("checkout", orders=1, last_order_at=T0), "order_placed")
    later = T0 + timedelta(days=RULES.one_time_buyer_churned_days + 1)
    _, transitions = fire_timers(p, later, RULES)
    assert [(t.from_stage, t.to_stage, t.cause, t.at) for t in transitions] == [
        ("customer", "at_risk", "timer:no_order", T0 + timedelta(days=45)),
        ("at_risk", "churned", "timer:no_order", T0 + timedelta(days=120)),
    ]


def test_at_risk_is_measured_against_the_customers_own_interval() -> None:
    times = [T0, T0 + timedelta(days=10), T0 + timedelta(days=20)]
    p = profile("repeat_customer", orders=3, order_times=times, last_order_at=times[-1])
    assert median_interval(p) == timedelta(days=10)
    assert lapse_after(p, RULES, churn=False) == timedelta(days=10 * RULES.at_risk_factor)
    assert due_at(p, RULES) == times[-1] + timedelta(days=20)
    p = p.model_copy(update={"due_at": due_at(p, RULES)})
    _, transitions = fire_timers(p, times[-1] + timedelta(days=100), RULES)
    assert [(t.to_stage, t.at) for t in transitions] == [
        ("at_risk", times[-1] + timedelta(days=20)),
        ("churned", times[-1] + timedelta(days=40)),
    ]


@pytest.mark.parametrize("lapsed", ["at_risk", "churned"])
def test_an_order_after_at_risk_or_churned_wins_the_customer_back(lapsed: Stage) -> None:
    at = T0 + timedelta(days=200)
    p = profile(lapsed, since=T0 + timedelta(days=90), orders=2, last_order_at=at)
    moved, moves = after(p, "order_placed", at)
    assert moves == [(lapsed, "won_back")]
    assert moved.due_at is not None  # a won-back customer can lapse again


def test_an_order_that_arrives_late_still_wins_back() -> None:
    # A timer fired before an older order reached the worker: the order still counts.
    at_risk = profile("at_risk", since=T0 + timedelta(days=45), orders=2, last_order_at=T0)
    assert after(at_risk, "order_placed", T0)[1] == [("at_risk", "won_back")]


def test_browsing_does_not_win_back_a_lapsed_customer() -> None:
    p = profile("churned", orders=1, last_order_at=T0, counts={"page_view": 9})
    assert after(p, "page_view", T0 + timedelta(days=300))[1] == []


# ------------------------------------------------------------------ what every move carries


def test_every_transition_carries_from_to_cause_event_and_time() -> None:
    p = profile("engaged", cart={"p1": 1}, cart_updated_at=T0)
    at = T0 + timedelta(minutes=3)
    _, transitions = advance(p, "cart_add", at, "event-42", RULES)
    t = transitions[0]
    assert (t.site_id, t.profile_id, t.from_stage, t.to_stage) == ("s", "p", "engaged", "cart")
    assert (t.cause, t.event_id, t.at) == ("cart_add", "event-42", at)


def test_time_in_each_stage_is_kept() -> None:
    p = profile("engaged", since=T0, cart={"p1": 1}, cart_updated_at=T0 + timedelta(hours=2))
    p, _ = advance(p, "cart_add", T0 + timedelta(hours=2), "e", RULES)
    p, _ = fire_timers(p, T0 + timedelta(days=1), RULES)
    assert p.stage == "cart_abandoned"
    assert p.stage_since == T0 + timedelta(hours=3)
    assert p.stage_seconds == {"engaged": 7200.0, "cart": 3600.0}


def test_timers_give_the_same_transitions_whenever_they_are_scanned() -> None:
    """Scanned at day 50 and again at day 500, or once at day 500: the same moves, each at
    its own due time, and the same profile after them."""
    p, _ = after(profile("checkout", orders=1, last_order_at=T0), "order_placed")
    twice, first = fire_timers(p, T0 + timedelta(days=50), RULES)
    twice, second = fire_timers(twice, T0 + timedelta(days=500), RULES)
    once, moves = fire_timers(p, T0 + timedelta(days=500), RULES)

    def path(transitions: list[StageTransition]) -> list[tuple[str, str, str, datetime]]:
        return [(t.from_stage, t.to_stage, t.cause, t.at) for t in transitions]

    assert first, "day 50 is past the first timer: the early scan must move"
    assert path(first + second) == path(moves)
    assert [t.to_stage for t in moves] == ["at_risk", "churned"]
    assert all(t.at <= T0 + timedelta(days=500) for t in moves)
    assert twice.stage == once.stage == "churned"
    assert twice.stage_seconds == once.stage_seconds
    assert twice.due_at == once.due_at


def test_a_merge_moves_the_stage_with_cause_merge() -> None:
    p = profile("visitor", orders=1, last_order_at=T0, revenue=Decimal(10))
    _, transitions = advance(p, None, T0, "merge:1", RULES)
    assert [(t.to_stage, t.cause) for t in transitions] == [("customer", "merge")]
