"""Pure profile logic: ``apply_event(profile, event) -> profile`` and merging."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from schemas.events import (
    CartAdd,
    CartRemove,
    CheckoutStarted,
    Envelope,
    OrderPlaced,
    OrderRefunded,
    ProductView,
    Review,
)
from schemas.profile import Profile

SEEN_IDS_KEPT = 512
SESSIONS_KEPT = 16
ORDER_TIMES_KEPT = 24
CART_ADDS_KEPT = 16


def new_profile(site_id: str, profile_id: str) -> Profile:
    return Profile(site_id=site_id, profile_id=profile_id)


def already_applied(profile: Profile, event_id: str) -> bool:
    return event_id in profile.seen_ids


def remember(ids: list[str], new: str, keep: int) -> list[str]:
    """A bounded list of the most recent ids, oldest first."""
    if new in ids:
        return ids
    return [*ids, new][-keep:]


def keep_sorted(times: list[datetime], new: datetime, keep: int) -> list[datetime]:
    """A bounded, sorted list of the latest times (late events land in their place)."""
    return sorted([*times, new])[-keep:]


def apply_event(profile: Profile, event: Envelope) -> Profile:
    """The profile after ``event``; applying the same event twice changes nothing."""
    event_id = str(event.event_id)
    if already_applied(profile, event_id):
        return profile
    kind = getattr(event, "type", "custom")
    counts = dict(profile.counts)
    counts[kind] = counts.get(kind, 0) + 1
    changes: dict[str, Any] = {
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
    changes |= typed_changes(profile, event)
    return profile.model_copy(update=changes)


def typed_changes(profile: Profile, event: Envelope) -> dict[str, Any]:
    """What each event type adds beyond the counts."""
    if isinstance(event, ProductView):
        props = event.properties
        changes: dict[str, Any] = {}
        if props.category:
            views = dict(profile.category_views)
            views[props.category] = views.get(props.category, 0) + 1
            changes["category_views"] = views
        if props.price is not None:
            changes["price_sum"] = profile.price_sum + props.price
            changes["price_count"] = profile.price_count + 1
        return changes
    if isinstance(event, (CartAdd, CartRemove)):
        return cart_changes(profile, event)
    if isinstance(event, CheckoutStarted):
        return {"checkout_at": max(filter(None, [profile.checkout_at, event.occurred_at]))}
    if isinstance(event, OrderPlaced):
        return order_changes(profile, event)
    if isinstance(event, OrderRefunded):
        return {"revenue": max(Decimal(0), profile.revenue - event.properties.amount)}
    if isinstance(event, Review):
        rating = event.properties.rating
        low = rating if profile.min_rating is None else min(profile.min_rating, rating)
        return {
            "ratings": profile.ratings + 1,
            "rating_sum": profile.rating_sum + rating,
            "min_rating": low,
        }
    return {}


def cart_changes(profile: Profile, event: CartAdd | CartRemove) -> dict[str, Any]:
    props = event.properties
    cart = dict(profile.cart)
    sign = 1 if isinstance(event, CartAdd) else -1
    quantity = max(0, cart.get(props.product_id, 0) + sign * props.quantity)
    if quantity:
        cart[props.product_id] = quantity
    else:
        cart.pop(props.product_id, None)
    value = profile.cart_value + sign * (props.price or Decimal(0)) * props.quantity
    changes: dict[str, Any] = {
        "cart": cart,
        "cart_value": max(Decimal(0), value) if cart else Decimal(0),
        "cart_updated_at": max(filter(None, [profile.cart_updated_at, event.occurred_at])),
    }
    if isinstance(event, CartAdd):
        changes["recent_cart_adds"] = keep_sorted(
            profile.recent_cart_adds, event.occurred_at, CART_ADDS_KEPT
        )
    return changes


def order_changes(profile: Profile, event: OrderPlaced) -> dict[str, Any]:
    at = event.occurred_at
    props = event.properties
    items = props.items
    return {
        "orders": profile.orders + 1,
        "revenue": profile.revenue + props.total,
        "currency": profile.currency or props.currency,
        "first_order_at": min(filter(None, [profile.first_order_at, at])),
        "last_order_at": max(filter(None, [profile.last_order_at, at])),
        "order_times": keep_sorted(profile.order_times, at, ORDER_TIMES_KEPT),
        "coupon_orders": profile.coupon_orders + (1 if props.coupon else 0),
        "price_sum": profile.price_sum + sum((i.price for i in items), Decimal(0)),
        "price_count": profile.price_count + len(items),
        # An order empties the cart.
        "cart": {},
        "cart_value": Decimal(0),
    }


def add_counts(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    merged = dict(a)
    for key, number in b.items():
        merged[key] = merged.get(key, 0) + number
    return merged


def earliest(*values: datetime | None) -> datetime | None:
    return min(filter(None, values), default=None)


def latest(*values: datetime | None) -> datetime | None:
    return max(filter(None, values), default=None)


def merge_profiles(into: Profile, other: Profile) -> Profile:
    """Fold an anonymous profile into a customer's: counts add up, first seen is earliest."""
    sessions = list(into.sessions)
    for session in other.sessions:
        sessions = remember(sessions, session, SESSIONS_KEPT)
    seen = list(into.seen_ids)
    for event_id in other.seen_ids:
        seen = remember(seen, event_id, SEEN_IDS_KEPT)
    anonymous_ids = list(into.anonymous_ids)
    for anonymous_id in other.anonymous_ids:
        anonymous_ids = remember(anonymous_ids, anonymous_id, 32)
    cart = add_counts(into.cart, other.cart)
    low = [r for r in (into.min_rating, other.min_rating) if r is not None]
    return into.model_copy(
        update={
            "version": into.version + 1,
            "event_count": into.event_count + other.event_count,
            "counts": add_counts(into.counts, other.counts),
            "sessions": sessions,
            "session_count": into.session_count + other.session_count,
            "seen_ids": seen,
            "anonymous_ids": anonymous_ids,
            "first_seen": earliest(into.first_seen, other.first_seen),
            "last_seen": latest(into.last_seen, other.last_seen),
            "orders": into.orders + other.orders,
            "revenue": into.revenue + other.revenue,
            "currency": into.currency or other.currency,
            "first_order_at": earliest(into.first_order_at, other.first_order_at),
            "last_order_at": latest(into.last_order_at, other.last_order_at),
            "order_times": sorted(into.order_times + other.order_times)[-ORDER_TIMES_KEPT:],
            "coupon_orders": into.coupon_orders + other.coupon_orders,
            "category_views": add_counts(into.category_views, other.category_views),
            "price_sum": into.price_sum + other.price_sum,
            "price_count": into.price_count + other.price_count,
            "cart": cart,
            "cart_value": into.cart_value + other.cart_value if cart else Decimal(0),
            "cart_updated_at": latest(into.cart_updated_at, other.cart_updated_at),
            "checkout_at": latest(into.checkout_at, other.checkout_at),
            "recent_cart_adds": sorted(into.recent_cart_adds + other.recent_cart_adds)[
                -CART_ADDS_KEPT:
            ],
            "ratings": into.ratings + other.ratings,
            "rating_sum": into.rating_sum + other.rating_sum,
            "min_rating": min(low) if low else None,
        }
    )


def absorb(into: Profile, other: Profile, merge_id: str) -> Profile:
    """``into`` after folding ``other`` in; the same merge applied twice changes nothing."""
    if already_applied(into, merge_id):
        return into
    merged = merge_profiles(into, other)
    seen = remember(merged.seen_ids, merge_id, SEEN_IDS_KEPT)
    return merged.model_copy(update={"seen_ids": seen, "customer_id": into.profile_id})
