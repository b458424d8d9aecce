"""Segment rules: the rule language, its validation, and every shipped segment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from schemas.profile import Profile
from stream_processors.segments import (
    SegmentConfigError,
    leave_all,
    load_config,
    memberships,
    parse_condition,
    parse_config,
    update_segments,
)

NOW = datetime(2026, 11, 1, tzinfo=UTC)
DEFAULT = load_config()


def profile(**fields: Any) -> Profile:
    return Profile(site_id="s", profile_id="p", **fields)


def segments_of(**fields: Any) -> list[str]:
    return memberships(profile(**fields), NOW, DEFAULT)


def ordered(days_ago: float, orders: int, revenue: int, **more: Any) -> dict[str, Any]:
    return {
        "orders": orders,
        "revenue": Decimal(revenue),
        "last_order_at": NOW - timedelta(days=days_ago),
        "stage": "repeat_customer" if orders > 1 else "customer",
    } | more


# ------------------------------------------------------------------ the rule language


def test_conditions_read_feature_operator_and_value() -> None:
    c = parse_condition("x", "stage in ['cart', 'checkout']")
    assert (c.feature, c.op, c.value) == ("stage", "in", ("cart", "checkout"))
    assert parse_condition("x", "coupon_share >= 0.5").value == 0.5
    assert parse_condition("x", "min_rating == null").value is None


def test_all_needs_every_condition_and_any_needs_one() -> None:
    config = parse_config(
        {
            "segments": [
                {"name": "both", "all": ["orders >= 1", "reviews >= 1"]},
                {"name": "either", "any": ["orders >= 1", "reviews >= 1"]},
            ]
        }
    )
    assert memberships(profile(orders=1), NOW, config) == ["either"]
    assert memberships(profile(orders=1, ratings=1, rating_sum=5), NOW, config) == [
        "both",
        "either",
    ]
    assert memberships(profile(), NOW, config) == []


def test_a_missing_figure_never_matches_a_comparison() -> None:
    config = parse_config({"segments": [{"name": "low", "all": ["min_rating <= 2"]}]})
    assert memberships(profile(), NOW, config) == []


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"name": "bad", "all": ["ordrs > 1"]}, "segment 'bad': unknown feature 'ordrs'"),
        ({"name": "bad", "all": ["orders >> 1"]}, "segment 'bad': '> 1' in 'orders >> 1' is not"),
        ({"name": "bad", "all": ["orders"]}, "segment 'bad': cannot read condition"),
        ({"name": "bad", "all": ["orders > __import__('os')"]}, "segment 'bad'"),
        ({"name": "bad", "all": ["stage == 'chruned'"]}, "'chruned' is not a stage"),
        ({"name": "bad", "all": ["orders > 'many'"]}, "orders is a number"),
        ({"name": "bad", "all": ["stage in 'cart'"]}, "'in' needs a list"),
        ({"name": "bad"}, "segment 'bad': needs 'all' or 'any'"),
        ({"name": "bad", "all": ["orders > 1"], "when": 1}, "segment 'bad': unknown keys"),
        ({"name": "Bad Name", "all": ["orders > 1"]}, "segment #1: 'name' must be snake_case"),
    ],
)
def test_bad_rules_are_refused_naming_the_rule(rule: dict[str, Any], message: str) -> None:
    with pytest.raises(SegmentConfigError) as caught:
        parse_config({"segments": [rule]})
    assert message in str(caught.value)


def test_a_segment_declared_twice_is_refused() -> None:
    rule = {"name": "twice", "all": ["orders > 1"]}
    with pytest.raises(SegmentConfigError, match="'twice' is declared twice"):
        parse_config({"segments": [rule, rule]})


def test_bands_in_a_segments_file_are_refused_saying_where_they_went(tmp_path: Path) -> None:
    path = tmp_path / "segments.toml"
    path.write_text("[bands]\nrecency_days = [14, 30, 60, 120]\n")
    with pytest.raises(SegmentConfigError, match="FOOTFALL_RULES") as caught:
        load_config(path)
    assert str(path) in str(caught.value)


def test_a_file_that_is_not_toml_is_refused_with_its_path(tmp_path: Path) -> None:
    path = tmp_path / "segments.toml"
    path.write_text("[[segments]\nname = ")
    with pytest.raises(SegmentConfigError, match=str(path)):
        load_config(path)


def test_the_shipped_config_covers_the_seed_segments() -> None:
    names = {s.name for s in DEFAULT.segments}
    assert names >= {
        "champions",
        "loyal_customers",
        "potential_loyalists",
        "new_customers",
        "at_risk",
        "cannot_lose",
        "hibernating",
        "lost",
        "bargain_hunter",
        "luxury_buyer",
        "browses_tech_never_buys",
        "cart_abandoner",
        "high_intent",
        "unhappy_reviewer",
    }


# ------------------------------------------------------------------ every shipped segment


def test_champions_bought_recently_often_and_most() -> None:
    assert "champions" in segments_of(**ordered(3, 6, 2000))
    assert "champions" not in segments_of(**ordered(3, 6, 100))  # spends little


def test_loyal_customers_order_regularly() -> None:
    assert "loyal_customers" in segments_of(**ordered(20, 3, 100))
    assert "loyal_customers" not in segments_of(**ordered(100, 3, 100))  # not lately


def test_potential_loyalists_are_recent_second_time_buyers() -> None:
    assert "potential_loyalists" in segments_of(**ordered(5, 2, 100))
    assert "potential_loyalists" not in segments_of(**ordered(5, 1, 100))  # one order


def test_new_customers_ordered_once_lately() -> None:
    assert "new_customers" in segments_of(**ordered(3, 1, 40))
    assert "new_customers" not in segments_of(**ordered(40, 1, 40))


def test_at_risk_used_to_buy_often() -> None:
    assert "at_risk" in segments_of(**ordered(100, 4, 300))
    assert "at_risk" not in segments_of(**ordered(20, 4, 300))  # still buying


def test_cannot_lose_big_spenders_gone_quiet() -> None:
    assert "cannot_lose" in segments_of(**ordered(200, 2, 900))
    assert "cannot_lose" not in segments_of(**ordered(200, 2, 100))  # never spent much


def test_hibernating_few_small_old_orders() -> None:
    assert "hibernating" in segments_of(**ordered(100, 1, 20))
    assert "hibernating" not in segments_of(**ordered(100, 1, 900))  # a big spender
    assert "hibernating" not in segments_of()  # RFM classes hold buyers only


def test_lost_customers_reached_churned() -> None:
    assert "lost" in segments_of(**ordered(300, 1, 20, stage="churned"))
    assert "lost" not in segments_of(**ordered(300, 1, 20, stage="at_risk"))


def test_bargain_hunters_use_coupons_and_browse_cheap() -> None:
    fields = ordered(5, 2, 40, discount_orders=2, price_sum=Decimal(40), price_count=4)
    assert "bargain_hunter" in segments_of(**fields)
    assert "bargain_hunter" not in segments_of(**fields | {"discount_orders": 0})


def test_luxury_buyers_buy_premium_with_a_high_order_value() -> None:
    fields = ordered(5, 2, 1200, price_sum=Decimal(1000), price_count=4)
    assert "luxury_buyer" in segments_of(**fields)
    assert "luxury_buyer" not in segments_of(**fields | {"price_sum": Decimal(40)})


def test_browses_tech_but_never_buys() -> None:
    assert "browses_tech_never_buys" in segments_of(category_views={"tech": 7})
    assert "browses_tech_never_buys" not in segments_of(
        category_views={"tech": 7}, **ordered(5, 1, 40)
    )


@pytest.mark.parametrize("stage", ["cart_abandoned", "checkout_abandoned"])
def test_cart_abandoners_left_a_cart_or_checkout(stage: str) -> None:
    assert "cart_abandoner" in segments_of(stage=stage)
    assert "cart_abandoner" not in segments_of(stage="cart")


def test_high_intent_means_a_cart_add_in_the_last_day() -> None:
    assert "high_intent" in segments_of(recent_cart_adds=[NOW - timedelta(hours=23)])
    assert "high_intent" not in segments_of(recent_cart_adds=[NOW - timedelta(hours=25)])


def test_unhappy_reviewers_rated_two_or_less() -> None:
    assert "unhappy_reviewer" in segments_of(ratings=2, rating_sum=6, min_rating=2)
    assert "unhappy_reviewer" not in segments_of(ratings=1, rating_sum=3, min_rating=3)


# ------------------------------------------------------------------ entering and leaving


def test_entering_and_leaving_are_changes_with_cause_and_time() -> None:
    p = profile(stage="cart_abandoned")
    p, entered = update_segments(p, NOW, "timer:cart_abandoned", None, DEFAULT)
    assert [(c.segment, c.change, c.cause, c.at) for c in entered] == [
        ("cart_abandoner", "entered", "timer:cart_abandoned", NOW)
    ]
    assert p.segments == ["cart_abandoner"]
    later = NOW + timedelta(hours=1)
    p = p.model_copy(update={"stage": "customer", "orders": 1, "last_order_at": later})
    p, changes = update_segments(p, later, "order_placed", "e9", DEFAULT)
    assert ("cart_abandoner", "exited", "e9") in [
        (c.segment, c.change, c.event_id) for c in changes
    ]
    assert update_segments(p, later, "page_view", "e10", DEFAULT)[1] == []


def test_a_merged_profile_leaves_every_segment() -> None:
    p = profile(segments=["high_intent", "cart_abandoner"])
    changes = leave_all(p, NOW, "merged")
    assert {(c.segment, c.change) for c in changes} == {
        ("high_intent", "exited"),
        ("cart_abandoner", "exited"),
    }
