"""apply_event: every figure of the profile, idempotence and order-freedom."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

import orjson

from schemas.events import Envelope
from schemas.profile import Profile
from stream_processors.figures import figures, snapshot, stored
from stream_processors.merging import absorb
from stream_processors.profile import apply_event, new_profile
from stream_processors.rules import ProfileRules
from tests.processors.events import at, make, order, view

RULES = ProfileRules(category_medians={"shoes": Decimal(100), "socks": Decimal(10)})


def fold(events: list[Envelope], rules: ProfileRules = RULES) -> Profile:
    profile = new_profile("shop", "c1")
    for event in events:
        profile = apply_event(profile, event, rules=rules)
    return profile


def history() -> list[Envelope]:
    utm = {"utm": {"source": "newsletter", "medium": "email", "campaign": "spring"}}
    return [
        make("page_view", at(0), context=utm | {"referrer": "https://mail.example.com/x"}),
        view(at(0, 1), "shoes", "150", brand="Acme"),
        view(at(1), "shoes", "160", brand="Acme"),
        view(at(2), "socks", "5", brand="Sox"),
        make("search", at(2, 1), properties={"query": "red shoes"}),
        make("search", at(2, 2), properties={"query": "running"}),
        make(
            "cart_add",
            at(3),
            properties={"product_id": "p1", "price": "150", "quantity": 2},
        ),
        make("cart_remove", at(3, 1), properties={"product_id": "p1", "price": "150"}),
        make("checkout_started", at(3, 2)),
        order(at(3, 3), "150.00", coupon="SPRING10", discount="15"),
        order(at(13, 3), "90.50"),
        order(at(33, 3), "200.00"),
        make(
            "order_refunded",
            at(34),
            properties={"order_id": "o", "amount": "20.50", "currency": "EUR"},
        ),
        make("review", at(35), properties={"product_id": "p1", "rating": 4}),
        make("review", at(36), properties={"product_id": "p2", "rating": 2}),
        make("experiment_exposure", at(36), properties={"experiment": "hero", "variant": "b"}),
        make(
            "page_view",
            at(40),
            session_id="s2",
            context={
                "referrer": "https://www.google.com/search",
                "country": "DE",
                "device": {"type": "mobile", "browser": "Safari"},
            },
        ),
    ]


def test_counts_sessions_and_order_figures() -> None:
    profile = fold(history())
    assert profile.event_count == 17
    assert profile.counts["product_view"] == 3
    assert profile.counts["order_placed"] == 3
    assert profile.session_count == 2
    assert profile.first_seen == at(0)
    assert profile.last_seen == at(40)
    assert profile.orders == 3
    assert profile.revenue == Decimal("420.00")  # 440.50 ordered, 20.50 refunded
    assert profile.refunds == 1
    assert profile.refunded == Decimal("20.50")
    assert profile.search_terms == ["red shoes", "running"]
    assert profile.ratings == 2
    assert profile.rating_sum == 6
    assert profile.experiments == {"hero": "b"}
    assert profile.devices == ["mobile"]
    assert profile.browsers == ["Safari"]
    assert profile.country == "DE"


def test_cart_and_its_value_follow_adds_removes_and_orders() -> None:
    add = make("cart_add", at(1), properties={"product_id": "p1", "price": "20", "quantity": 3})
    remove = make("cart_remove", at(1, 1), properties={"product_id": "p1", "price": "20"})
    profile = fold([add, remove])
    assert profile.cart == {"p1": 2}
    assert profile.cart_value == Decimal(40)
    assert fold([add, remove, order(at(2), "40")]).cart == {}


def test_derived_figures() -> None:
    result = figures(fold(history()), at(43, 3), RULES)
    assert result.average_order_value == Decimal("140.00")
    assert result.mean_days_between_orders == 15.0
    assert result.median_days_between_orders == 15.0
    assert result.days_since_last_order == 10.0
    assert result.coupon_share == round(1 / 3, 4)
    assert result.preferred_hour == 13
    assert result.preferred_weekday == 4  # 2026-03-05 and 03-15 and 04-04: Thu, Sun, Sat
    assert result.mean_rating == 3.0
    assert result.favourite_categories[0] == "shoes"
    assert result.favourite_brands[0] == "Acme"
    # Viewed 150, 160 (shoes, median 100) and 5 (socks, median 10): mean ratio 1.2 → mid.
    assert result.price_tier == "mid"
    assert (result.views_7d, result.views_30d, result.views_90d) == (0, 0, 3)
    assert result.orders_30d == 1
    assert result.orders_90d == 3
    assert result.carts_90d == 1


def test_rfm_scores_follow_the_configured_bands() -> None:
    profile = fold(history())
    result = figures(profile, at(43, 3), RULES)
    # 10 days since last order ≤ 14 → 5; 3 orders in (2, 4] → 3; 420 in (400, 1000] → 4.
    assert (result.recency_score, result.frequency_score, result.monetary_score) == (5, 3, 4)
    assert result.rfm == "534"
    strict = RULES.model_copy(
        update={"recency_bands_days": (1, 2, 3, 5), "monetary_bands": (1000, 2000, 3000, 4000)}
    )
    assert figures(profile, at(43, 3), strict).rfm == "131"
    assert figures(new_profile("shop", "x"), at(1), RULES).rfm == "111"


def test_price_tier_against_category_medians() -> None:
    cheap = fold([view(at(0), "shoes", "50"), view(at(1), "socks", "6")])
    dear = fold([view(at(0), "shoes", "300")])
    assert figures(cheap, at(2), RULES).price_tier == "budget"
    assert figures(dear, at(2), RULES).price_tier == "premium"
    # No median for hats: the average price against the absolute cut points (30, 120).
    assert figures(fold([view(at(0), "hats", "20")]), at(2), RULES).price_tier == "budget"
    assert figures(fold([view(at(0), "hats", "30")]), at(2), RULES).price_tier == "mid"
    assert figures(fold([view(at(0), "hats", "130")]), at(2), RULES).price_tier == "premium"
    assert figures(fold([]), at(2), RULES).price_tier is None


def test_interest_decays_so_recent_categories_win() -> None:
    old = [view(at(0, i), "shoes", "100") for i in range(4)]
    recent = [view(at(120, i), "socks", "10") for i in range(2)]
    result = figures(fold(old + recent), at(121), RULES)
    assert result.favourite_categories[:2] == ["socks", "shoes"]


def test_first_and_last_touch() -> None:
    profile = fold(history())
    assert profile.first_touch is not None
    assert profile.last_touch is not None
    assert profile.first_touch.source == "newsletter"
    assert profile.first_touch.campaign == "spring"
    assert profile.first_touch.referrer == "email"
    assert profile.last_touch.referrer == "search"
    assert profile.last_touch.at == at(40)


def test_the_same_event_twice_changes_nothing() -> None:
    events = history()[:8]
    once = fold(events)
    assert fold(events + events) == once


def test_a_replay_at_its_source_offset_changes_nothing_even_outside_the_id_window() -> None:
    events = [make("page_view", at(0, i)) for i in range(40)]
    profile = new_profile("shop", "c1")
    for offset, event in enumerate(events):
        profile = apply_event(profile, event, source=(3, 100 + offset))
    replayed = profile
    for offset, event in enumerate(events):
        replayed = apply_event(replayed, event, source=(3, 100 + offset))
    assert replayed == profile
    assert profile.event_count == 40
    assert profile.offsets == {"3": 139}


def test_a_client_retry_at_a_new_offset_is_caught_by_the_recent_ids() -> None:
    event = make(
        "order_placed", at(0), properties={"order_id": "o", "total": "5", "currency": "EUR"}
    )
    profile = apply_event(new_profile("shop", "c1"), event, source=(0, 1))
    assert apply_event(profile, event, source=(0, 7)).orders == 1


def test_a_whole_history_received_again_at_new_offsets_changes_nothing() -> None:
    """A second collector, a client retry or a producer retry: same ids, new offsets."""
    once = history()
    received = [e.model_copy(update={"received_at": at(40, i % 24)}) for i, e in enumerate(once)]
    again = [e.model_copy(update={"received_at": at(46, 23)}) for e in once]
    profile = new_profile("shop", "c1")
    for offset, event in enumerate([*received, *again, *reversed(again)]):
        profile = apply_event(profile, event, source=(offset % 2, offset), rules=RULES)
    assert profile.model_dump(exclude={"offsets"}) == fold(received).model_dump(exclude={"offsets"})


def test_the_dedup_window_is_counted_in_receipt_days() -> None:
    event = make("page_view", at(0), received_at=at(0, 12).isoformat())
    profile = apply_event(new_profile("shop", "c1"), event, rules=RULES)
    for day in range(1, 7):
        other = make("page_view", at(day), received_at=at(day).isoformat())
        profile = apply_event(profile, other, rules=RULES)
    assert len(profile.seen) == 7
    within = event.model_copy(update={"received_at": at(6, 23)})
    assert apply_event(profile, within, rules=RULES) is profile
    newer = make("page_view", at(7), received_at=at(7).isoformat())
    profile = apply_event(profile, newer, rules=RULES)
    assert len(profile.seen) == 7  # day 0 left the window
    beyond = event.model_copy(update={"received_at": at(7, 1)})
    assert apply_event(profile, beyond, rules=RULES).event_count == profile.event_count + 1
    wider = ProfileRules(dedup_window_days=30)
    profile = new_profile("shop", "c1")
    for other in [event, newer]:
        profile = apply_event(profile, other, rules=wider)
    assert apply_event(profile, beyond, rules=wider) is profile


ORDER_FREE = (
    "event_count",
    "counts",
    "first_seen",
    "last_seen",
    "session_count",
    "orders",
    "revenue",
    "refunds",
    "refunded",
    "first_order_at",
    "last_order_at",
    "order_times",
    "discount_orders",
    "category_views",
    "price_sum",
    "price_count",
    "price_ratio_count",
    "ratings",
    "rating_sum",
    "min_rating",
    "order_hours",
    "order_weekdays",
    "country",
    "first_touch",
    "last_touch",
    "days",
    "checkout_at",
    "recent_cart_adds",
)


def test_late_and_out_of_order_events_give_the_same_profile() -> None:
    events = history()
    in_order = fold(events)
    for seed in range(20):
        shuffled = list(events)
        random.Random(seed).shuffle(shuffled)
        other = fold(shuffled)
        for name in ORDER_FREE:
            assert getattr(other, name) == getattr(in_order, name), (seed, name)
        assert abs(other.price_ratio_sum - in_order.price_ratio_sum) < 1e-9
        for name, score in in_order.category_scores.items():
            assert abs(other.category_scores[name] - score) < 1e-5 * score
        now = at(50)
        a, b = figures(in_order, now, RULES), figures(other, now, RULES)
        assert a.model_dump(exclude={"favourite_brands"}) == b.model_dump(
            exclude={"favourite_brands"}
        )


def test_rolling_windows_keep_only_ninety_days() -> None:
    events = [view(at(day), "shoes", "100") for day in range(0, 200, 10)]
    profile = fold(events)
    assert len(profile.days) <= 9
    assert figures(profile, at(190), RULES).views_90d == 9


def test_a_busy_profile_stays_small_in_the_store() -> None:
    events = history() * 1
    for i in range(300):
        events.append(view(at(i % 80, i % 24), f"cat{i % 30}", "20", brand=f"b{i % 20}"))
        events.append(make("page_view", at(i % 80), session_id=f"s{i}"))
        events.append(make("search", at(i % 80), properties={"query": f"term {i}"}))
    for i in range(40):
        events.append(order(at(i * 2, 5), "10.00"))
    profile = fold(events)
    size = len(orjson.dumps(stored(profile)))
    assert profile.event_count == len(events)
    # The worst case: active on 80 of the last 90 days, 300 distinct sessions (10 bytes each).
    assert size < 8 * 1024, size
    typical = len(orjson.dumps(stored(fold(history()))))
    assert typical < 2048, typical  # every field in use
    assert len(profile.seen) <= RULES.dedup_window_days
    assert b'"figures"' in snapshot(profile, at(90))
    assert b'"seen"' not in snapshot(profile, at(90))


def test_stored_form_round_trips() -> None:
    profile = fold(history())
    assert Profile.model_validate(stored(profile)) == profile


def test_timezone_of_order_hour_is_utc() -> None:
    profile = fold([order(at(0) + timedelta(hours=5), "1")])
    assert profile.order_hours == {"15": 1}


def test_absorbing_an_anonymous_profile_keeps_the_customers_watermarks() -> None:
    anonymous = apply_event(new_profile("shop", "anon-b"), make("page_view", at(0)), (2, 500))
    customer = apply_event(new_profile("shop", "c1"), make("page_view", at(0)), (2, 400))
    merged = absorb(customer, anonymous, "merge:0f8a9c3e-0000-4000-8000-000000000001")
    assert merged.offsets == {"2": 400}
    late = make("page_view", at(1))  # another device's event, offset 480, still in flight
    assert apply_event(merged, late, (2, 480)).event_count == 3


def test_a_merge_replayed_after_many_events_changes_nothing() -> None:
    anonymous = apply_event(new_profile("shop", "anon-b"), make("page_view", at(0)), (2, 5))
    merge_id = "merge:0f8a9c3e-0000-4000-8000-000000000002"
    customer = absorb(new_profile("shop", "c1"), anonymous, merge_id)
    for n in range(30):
        customer = apply_event(customer, make("page_view", at(1, n)), (1, n))
    assert absorb(customer, anonymous, merge_id) == customer
