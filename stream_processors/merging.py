"""Folding an anonymous profile into its customer's. Pure functions."""

from __future__ import annotations

from schemas import consent
from schemas.profile import Profile
from stream_processors import cart as carts
from stream_processors import dedup
from stream_processors.channels import first_touch, last_touch
from stream_processors.money import add_amounts
from stream_processors.profile import (
    ANONYMOUS_IDS_KEPT,
    CART_ADDS_KEPT,
    DEVICES_KEPT,
    ORDER_TIMES_KEPT,
    SEARCH_TERMS_KEPT,
    add_counts,
    add_days,
    add_scores,
    earliest,
    later_cue,
    latest,
    remember,
    short_id,
)
from stream_processors.rules import DEFAULT_RULES

DEFAULT_WINDOW = DEFAULT_RULES.dedup_window_days
MERGES_KEPT = 32
"""Merges remembered per customer: a replayed merge may come after any number of events."""


def remember_all(ids: list[str], new: list[str], keep: int) -> list[str]:
    for item in new:
        ids = remember(ids, item, keep)
    return ids


def merge_profiles(into: Profile, other: Profile, window_days: int = DEFAULT_WINDOW) -> Profile:
    """``into`` with ``other`` folded in: counts add up, first seen is the earliest, a session
    or an event both know counts once."""
    book = carts.merged(into.cart_book, other.cart_book)
    cart, cart_value = carts.contents(book)
    session_keys, session_count = dedup.merge_sessions(
        (into.session_keys, into.session_count), (other.session_keys, other.session_count)
    )
    low = [r for r in (into.min_rating, other.min_rating) if r is not None]
    newer_country = other.country_at is not None and (
        into.country_at is None or other.country_at > into.country_at
    )
    return into.model_copy(
        update={
            "version": into.version + 1,
            "event_count": into.event_count + other.event_count,
            "counts": add_counts(into.counts, other.counts),
            "session_keys": session_keys,
            "session_count": session_count,
            "seen": dedup.merge_seen(into.seen, other.seen, window_days),
            # The customer's watermarks stay its own: an event's source offset always routes
            # to the same profile, and another worker's events for the customer may still be
            # on their way with offsets below the anonymous profile's.
            "offsets": into.offsets,
            "anonymous_ids": remember_all(
                list(into.anonymous_ids), other.anonymous_ids, ANONYMOUS_IDS_KEPT
            ),
            "first_seen": earliest(into.first_seen, other.first_seen),
            "last_seen": latest(into.last_seen, other.last_seen),
            "orders": into.orders + other.orders,
            "revenue": into.revenue + other.revenue,
            "refunds": into.refunds + other.refunds,
            "refunded": into.refunded + other.refunded,
            "unconverted": add_amounts(into.unconverted, other.unconverted),
            "unconverted_orders": into.unconverted_orders + other.unconverted_orders,
            "unconverted_refunds": into.unconverted_refunds + other.unconverted_refunds,
            "currency": into.currency or other.currency,
            "first_order_at": earliest(into.first_order_at, other.first_order_at),
            "last_order_at": latest(into.last_order_at, other.last_order_at),
            "order_times": sorted(into.order_times + other.order_times)[-ORDER_TIMES_KEPT:],
            "discount_orders": into.discount_orders + other.discount_orders,
            "category_views": add_counts(into.category_views, other.category_views),
            "category_scores": add_scores(into.category_scores, other.category_scores),
            "brand_scores": add_scores(into.brand_scores, other.brand_scores),
            "price_sum": into.price_sum + other.price_sum,
            "price_count": into.price_count + other.price_count,
            "price_ratio_sum": into.price_ratio_sum + other.price_ratio_sum,
            "price_ratio_count": into.price_ratio_count + other.price_ratio_count,
            "cart_book": book,
            "cart": cart,
            "cart_value": cart_value,
            "cart_updated_at": latest(into.cart_updated_at, other.cart_updated_at),
            "checkout_at": latest(into.checkout_at, other.checkout_at),
            "stage_cue": later_cue(into.stage_cue, other.stage_cue),
            "recent_cart_adds": sorted(into.recent_cart_adds + other.recent_cart_adds)[
                -CART_ADDS_KEPT:
            ],
            "ratings": into.ratings + other.ratings,
            "rating_sum": into.rating_sum + other.rating_sum,
            "min_rating": min(low) if low else None,
            "search_terms": remember_all(
                list(other.search_terms), into.search_terms, SEARCH_TERMS_KEPT
            ),
            "order_hours": add_counts(into.order_hours, other.order_hours),
            "order_weekdays": add_counts(into.order_weekdays, other.order_weekdays),
            "devices": remember_all(list(into.devices), other.devices, DEVICES_KEPT),
            "browsers": remember_all(list(into.browsers), other.browsers, DEVICES_KEPT),
            "country": other.country if newer_country else into.country,
            "country_at": latest(into.country_at, other.country_at),
            "first_touch": first_touch(into.first_touch, other.first_touch),
            "last_touch": last_touch(into.last_touch, other.last_touch),
            "experiments": {**other.experiments, **into.experiments},
            "consent": consent.merged(into.consent, other.consent),
            "days": add_days(into.days, other.days),
        }
    )


def absorb(
    into: Profile, other: Profile, merge_id: str, window_days: int = DEFAULT_WINDOW
) -> Profile:
    """``into`` after folding ``other`` in; the same merge applied twice changes nothing."""
    done = short_id(merge_id)
    if done in into.merge_ids:
        return into
    merged = merge_profiles(into, other, window_days)
    merge_ids = remember(into.merge_ids, done, MERGES_KEPT)
    return merged.model_copy(update={"merge_ids": merge_ids, "customer_id": into.profile_id})
