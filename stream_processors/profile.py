"""Pure profile logic: ``apply_event(profile, event) -> profile``, merging and dedup.

Every update is idempotent. An event read from source partition ``p`` at offset ``o`` is
applied once: the profile keeps, per source partition, the highest offset applied (events of
one browser reach their profile in source order: a replay is dropped at once), and the short
ids of the events it applied per receipt day within the dedup window, so the same event
received again at a new offset (another collector, a client retry, a producer retry) is
dropped too. Sums, counts, distinct sessions and the cart are order-free; "first"/"last"
figures compare ``occurred_at``, so late events land where they belong.
"""

from __future__ import annotations

import math
from datetime import datetime
from decimal import Decimal
from typing import Any

from schemas import consent
from schemas.events import (
    CartAdd,
    CartRemove,
    CheckoutStarted,
    Envelope,
    ExperimentExposure,
    OrderPlaced,
    OrderRefunded,
    ProductView,
    Review,
    Search,
)
from schemas.profile import CartBook, CartLine, Profile, StageCue
from stream_processors import cart as carts
from stream_processors import dedup
from stream_processors.channels import first_touch, last_touch, touch_of
from stream_processors.rules import DECAY_EPOCH, DEFAULT_RULES, ProfileRules

ORDER_TIMES_KEPT = 24
CART_ADDS_KEPT = 16
SEARCH_TERMS_KEPT = 5
SCORES_KEPT = 8
DEVICES_KEPT = 4
EXPERIMENTS_KEPT = 8
ANONYMOUS_IDS_KEPT = 8
DAYS_KEPT = 90
SHORT_ID = 10
Source = tuple[int, int]
"""(source partition, source offset) of the event that a message carries."""


def new_profile(site_id: str, profile_id: str) -> Profile:
    return Profile(site_id=site_id, profile_id=profile_id)


def short_id(event_id: str) -> str:
    """A compact id: 40 bits of the UUID; merge ids (``merge:<uuid>``) get an ``m``."""
    prefix, _, rest = event_id.rpartition(":")
    return ("m" if prefix else "") + rest.replace("-", "")[:SHORT_ID]


def already_applied(profile: Profile, event_id: str, source: Source | None = None) -> bool:
    if source is not None and profile.offsets.get(str(source[0]), -1) >= source[1]:
        return True
    return dedup.seen_before(profile.seen, short_id(event_id))


def remember(ids: list[str], new: str, keep: int) -> list[str]:
    """A bounded list of the most recent distinct ids, oldest first."""
    if new in ids:
        return ids
    return [*ids, new][-keep:]


def keep_sorted(times: list[datetime], new: datetime, keep: int) -> list[datetime]:
    """A bounded, sorted list of the latest times (late events land in their place)."""
    return sorted([*times, new])[-keep:]


def earliest(*values: datetime | None) -> datetime | None:
    return min(filter(None, values), default=None)


def latest(*values: datetime | None) -> datetime | None:
    return max(filter(None, values), default=None)


def add_counts(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    merged = dict(a)
    for key, number in b.items():
        merged[key] = merged.get(key, 0) + number
    return merged


MAX_DECAY_EXPONENT = 900.0
"""2 ** 900 is far from a float's limit (2 ** 1024), with room for sums of many weights."""


def decay_weight(at: datetime, rules: ProfileRules) -> float:
    """Weight of an interest at ``at``, scaled to the epoch: sums stay order-free.

    The exponent is capped, so a date centuries away (or a tiny half-life) saturates the
    weight instead of overflowing a float."""
    days = (at - DECAY_EPOCH).total_seconds() / 86400
    exponent = max(-MAX_DECAY_EXPONENT, min(MAX_DECAY_EXPONENT, days / rules.half_life_days))
    return math.pow(2.0, exponent)


def add_scores(a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
    merged = dict(a)
    for key, score in b.items():
        merged[key] = merged.get(key, 0.0) + score
    top = sorted(merged.items(), key=lambda kv: (-kv[1], kv[0]))[:SCORES_KEPT]
    return {key: float(f"{score:.7g}") for key, score in top}


def day_number(at: datetime) -> int:
    return int(at.timestamp() // 86400)


def add_days(a: dict[str, list[int]], b: dict[str, list[int]]) -> dict[str, list[int]]:
    merged = {day: list(values) for day, values in a.items()}
    for day, values in b.items():
        current = merged.setdefault(day, [0, 0, 0])
        merged[day] = [x + y for x, y in zip(current, values, strict=True)]
    if not merged:
        return merged
    newest = max(int(day) for day in merged)
    return {day: v for day, v in merged.items() if int(day) > newest - DAYS_KEPT}


def apply_event(
    profile: Profile,
    event: Envelope,
    source: Source | None = None,
    rules: ProfileRules = DEFAULT_RULES,
) -> Profile:
    """The profile after ``event``; applying the same event twice changes nothing."""
    event_id = str(event.event_id)
    if already_applied(profile, event_id, source):
        return profile
    kind = getattr(event, "type", "custom")
    received = dedup.receipt_day(event.received_at or event.occurred_at)
    changes: dict[str, Any] = {
        "version": profile.version + 1,
        "event_count": profile.event_count + 1,
        "counts": add_counts(profile.counts, {kind: 1}),
        "seen": dedup.remember_seen(
            profile.seen, short_id(event_id), received, rules.dedup_window_days
        ),
        "first_seen": earliest(profile.first_seen, event.occurred_at),
        "last_seen": latest(profile.last_seen, event.occurred_at),
        "anonymous_ids": remember(profile.anonymous_ids, event.anonymous_id, ANONYMOUS_IDS_KEPT),
        "stage_since": profile.stage_since or event.occurred_at,
    }
    if source is not None:
        offsets = dict(profile.offsets)
        offsets[str(source[0])] = max(source[1], offsets.get(str(source[0]), -1))
        changes["offsets"] = offsets
    if event.customer_id:
        changes["customer_id"] = event.customer_id
    if event.session_id:
        keys, count = dedup.add_session(
            profile.session_keys, profile.session_count, event.session_id
        )
        changes |= {"session_keys": keys, "session_count": count}
    changes |= context_changes(profile, event)
    changes |= typed_changes(profile, event, rules)
    return profile.model_copy(update=changes)


def context_changes(profile: Profile, event: Envelope) -> dict[str, Any]:
    """Device, browser, country and channel from the event's context."""
    context = event.context
    changes: dict[str, Any] = {}
    device = context.device
    if device is not None:
        changes["devices"] = remember(profile.devices, device.type, DEVICES_KEPT)
        if device.browser:
            changes["browsers"] = remember(profile.browsers, device.browser, DEVICES_KEPT)
    if context.country and (profile.country_at is None or event.occurred_at >= profile.country_at):
        changes["country"] = context.country
        changes["country_at"] = event.occurred_at
    folded = consent.with_signal(
        profile.consent, context.consent, event.occurred_at, str(event.event_id)
    )
    if folded is not profile.consent:
        changes["consent"] = folded
    touch = touch_of(event)
    if touch is not None:
        changes["first_touch"] = first_touch(profile.first_touch, touch)
        changes["last_touch"] = last_touch(profile.last_touch, touch)
    return changes


def interest_changes(
    profile: Profile,
    at: datetime,
    category: str | None,
    brand: str | None,
    price: Decimal | None,
    rules: ProfileRules,
) -> dict[str, Any]:
    """Decayed category and brand interest, and where a price sits in its category."""
    weight = decay_weight(at, rules)
    changes: dict[str, Any] = {}
    if category:
        changes["category_scores"] = add_scores(profile.category_scores, {category: weight})
        median = rules.category_medians.get(category)
        if price is not None and median:
            changes["price_ratio_sum"] = profile.price_ratio_sum + float(price / median)
            changes["price_ratio_count"] = profile.price_ratio_count + 1
    if brand:
        changes["brand_scores"] = add_scores(profile.brand_scores, {brand: weight})
    return changes


def day_changes(profile: Profile, at: datetime, slot: int) -> dict[str, Any]:
    values = [0, 0, 0]
    values[slot] = 1
    return {"days": add_days(profile.days, {str(day_number(at)): values})}


def typed_changes(profile: Profile, event: Envelope, rules: ProfileRules) -> dict[str, Any]:
    """What each event type adds beyond the counts."""
    at = event.occurred_at
    if isinstance(event, ProductView):
        props = event.properties
        changes = interest_changes(profile, at, props.category, props.brand, props.price, rules)
        changes |= day_changes(profile, at, 0)
        if props.category:
            changes["category_views"] = add_counts(profile.category_views, {props.category: 1})
        if props.price is not None:
            changes["price_sum"] = profile.price_sum + props.price
            changes["price_count"] = profile.price_count + 1
        return changes
    if isinstance(event, Search):
        terms = [t for t in profile.search_terms if t != event.properties.query]
        return {"search_terms": [*terms, event.properties.query][-SEARCH_TERMS_KEPT:]}
    if isinstance(event, (CartAdd, CartRemove)):
        return cart_changes(profile, event) | cue_changes(profile, event)
    if isinstance(event, CheckoutStarted):
        return {"checkout_at": latest(profile.checkout_at, at)} | cue_changes(profile, event)
    if isinstance(event, OrderPlaced):
        return order_changes(profile, event, rules)
    if isinstance(event, OrderRefunded):
        refund = event.properties
        money = rules.money.refund_changes(profile, refund.amount, refund.currency, event.site_id)
        return {"refunds": profile.refunds + 1, **money}
    if isinstance(event, Review):
        rating = event.properties.rating
        low = rating if profile.min_rating is None else min(profile.min_rating, rating)
        return {
            "ratings": profile.ratings + 1,
            "rating_sum": profile.rating_sum + rating,
            "min_rating": low,
        }
    if isinstance(event, ExperimentExposure):
        experiments = dict(profile.experiments)
        experiments[event.properties.experiment] = event.properties.variant
        return {"experiments": dict(list(experiments.items())[-EXPERIMENTS_KEPT:])}
    return {}


def cue_changes(profile: Profile, event: Envelope) -> dict[str, Any]:
    """The stage cue: the latest cart or checkout event by (event time, id)."""
    cue = StageCue(
        at=event.occurred_at,
        id=short_id(str(event.event_id)),
        kind=getattr(event, "type", "custom"),
    )
    return {"stage_cue": later_cue(profile.stage_cue, cue)}


def later_cue(a: StageCue | None, b: StageCue | None) -> StageCue | None:
    if a is None or b is None:
        return a or b
    return b if (b.at, b.id) > (a.at, a.id) else a


def cart_changes(profile: Profile, event: CartAdd | CartRemove) -> dict[str, Any]:
    props = event.properties
    sign = 1 if isinstance(event, CartAdd) else -1
    line = CartLine(
        at=event.occurred_at,
        id=short_id(str(event.event_id)),
        product=props.product_id,
        quantity=sign * props.quantity,
        price=props.price or Decimal(0),
    )
    changes = book_changes(carts.with_line(profile.cart_book, line))
    changes["cart_updated_at"] = latest(profile.cart_updated_at, event.occurred_at)
    if isinstance(event, CartAdd):
        changes["recent_cart_adds"] = keep_sorted(
            profile.recent_cart_adds, event.occurred_at, CART_ADDS_KEPT
        )
        changes |= day_changes(profile, event.occurred_at, 1)
    return changes


def order_changes(profile: Profile, event: OrderPlaced, rules: ProfileRules) -> dict[str, Any]:
    at = event.occurred_at
    props = event.properties
    items = props.items
    # Item prices in the base currency too (None without a rate: no price figures from them).
    prices = [rules.money.to_base(i.price, props.currency, event.site_id) for i in items]
    known = [price for price in prices if price is not None]
    changes: dict[str, Any] = {
        "orders": profile.orders + 1,
        **rules.money.order_changes(profile, props.total, props.currency, event.site_id),
        "first_order_at": earliest(profile.first_order_at, at),
        "last_order_at": latest(profile.last_order_at, at),
        "order_times": keep_sorted(profile.order_times, at, ORDER_TIMES_KEPT),
        "discount_orders": profile.discount_orders + (1 if props.coupon or props.discount else 0),
        "price_sum": profile.price_sum + sum(known, Decimal(0)),
        "price_count": profile.price_count + len(known),
        "order_hours": add_counts(profile.order_hours, {str(at.hour): 1}),
        "order_weekdays": add_counts(profile.order_weekdays, {str(at.isoweekday()): 1}),
    }
    changes |= day_changes(profile, at, 2)
    interim = profile.model_copy(update=changes)
    for item, price in zip(items, prices, strict=True):
        extra = interest_changes(interim, at, item.category, item.brand, price, rules)
        interim = interim.model_copy(update=extra)
        changes |= extra
    changes |= book_changes(carts.cleared(profile.cart_book, at))  # an order empties the cart
    return changes


def book_changes(book: CartBook) -> dict[str, Any]:
    """The cart book and the cart folded from it."""
    cart, value = carts.contents(book)
    return {"cart_book": book, "cart": cart, "cart_value": value}
