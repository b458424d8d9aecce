"""One definition per figure: what a segment rule reads under a figure's name is the value
the profile publishes (profiles topic, ClickHouse, dashboard, webhooks), for any profile."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.profile import Profile, ProfileFigures
from stream_processors.figures import figures
from stream_processors.rules import ProfileRules
from stream_processors.segments import features
from stream_processors.settings import WorkerSettings
from stream_processors.worker import step_config

NOW = datetime(2026, 11, 1, tzinfo=UTC)
SETTINGS = WorkerSettings()
RULES = SETTINGS.profile_rules()
JOURNEY = step_config(SETTINGS, RULES).journey  # what the worker evaluates rules with
SHARED = sorted(
    set(ProfileFigures.model_fields) & set(features(Profile(site_id="s", profile_id="p"), NOW))
)
SCORES = {"rfm_r": "recency_score", "rfm_f": "frequency_score", "rfm_m": "monetary_score"}


@st.composite
def profiles(draw: st.DrawFn) -> Profile:
    orders = draw(st.integers(0, 12))
    ratio_count = draw(st.integers(0, 5))
    price_count = draw(st.integers(0, 8))
    ratings = draw(st.integers(0, 4))
    days_ago = draw(st.sampled_from([0, 14, 30, 90, 180]) | st.floats(0, 400))
    return Profile(
        site_id="s", profile_id="p", orders=orders,
        discount_orders=draw(st.integers(0, orders)),
        unconverted_orders=draw(st.integers(0, orders)),
        revenue=Decimal(draw(st.integers(0, 300000))) / 100,
        last_order_at=NOW - timedelta(days=days_ago) if orders else None,
        price_sum=Decimal(draw(st.integers(0, 300))) * price_count, price_count=price_count,
        price_ratio_sum=draw(st.floats(0, 3)) * ratio_count, price_ratio_count=ratio_count,
        ratings=ratings, rating_sum=draw(st.integers(ratings, 5 * ratings)),
    )  # fmt: skip


def test_rules_read_the_price_tier_coupon_share_and_rfm_scores_by_name() -> None:
    assert {"price_tier", "coupon_share", "recency_score", "rfm"} <= set(SHARED)


@settings(max_examples=300, deadline=None)
@given(profiles())
def test_segment_features_are_the_published_figures(profile: Profile) -> None:
    seen = features(profile, NOW, JOURNEY.profile_rules, JOURNEY.figures(profile, NOW))
    published = figures(profile, NOW, RULES).model_dump()
    assert {name: seen[name] for name in SHARED} == {name: published[name] for name in SHARED}
    buyer = profile.orders > 0
    priced = profile.orders > profile.unconverted_orders
    assert seen["aov"] == (float(published["average_order_value"]) if priced else None)
    assert {k: seen[k] for k in SCORES} == {
        k: published[v] if buyer else None for k, v in SCORES.items()
    }


@settings(max_examples=100, deadline=None)
@given(profiles(), st.sampled_from([(1, 2, 3, 5), (7, 30, 60, 365)]))
def test_the_bands_set_once_move_both(profile: Profile, bands: tuple[float, ...]) -> None:
    rules = ProfileRules(recency_bands_days=bands, frequency_bands=bands, budget_price_below=5)
    seen = features(profile, NOW, rules)
    published = figures(profile, NOW, rules)
    assert (seen["rfm"], seen["price_tier"]) == (published.rfm, published.price_tier)
