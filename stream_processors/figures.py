"""Figures derived from a profile at a moment: AOV, RFM, tiers, rolling counts. Pure."""

from __future__ import annotations

import math
from datetime import datetime
from itertools import pairwise
from statistics import median
from typing import Any

import orjson

from schemas.profile import Profile, ProfileFigures
from stream_processors.profile import day_number
from stream_processors.rules import DECAY_EPOCH, DEFAULT_RULES, ProfileRules
from stream_processors.scores import (
    average_order_value,
    coupon_share,
    days_since_last_order,
    mean_rating,
    price_tier,
    rfm,
)

FAVOURITES = 3


def days_between(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds() / 86400


def favourites(scores: dict[str, float]) -> list[str]:
    ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
    return [name for name, _ in ranked[:FAVOURITES]]


def preferred(counts: dict[str, int]) -> int | None:
    if not counts:
        return None
    return int(min(counts.items(), key=lambda kv: (-kv[1], int(kv[0])))[0])


def rolling(profile: Profile, now: datetime, slot: int, days: int) -> int:
    today = day_number(now)
    return sum(v[slot] for d, v in profile.days.items() if today - days < int(d) <= today)


def figures(profile: Profile, now: datetime, rules: ProfileRules = DEFAULT_RULES) -> ProfileFigures:
    """The derived figures of ``profile`` as of ``now``."""
    orders = profile.orders
    times = profile.order_times
    gaps = [days_between(a, b) for a, b in pairwise(times)]
    mean_gap = None
    if orders > 1 and profile.first_order_at and profile.last_order_at:
        mean_gap = days_between(profile.first_order_at, profile.last_order_at) / (orders - 1)
    lifetime_days = days_between(profile.first_seen, now) if profile.first_seen else 0.0
    net = profile.revenue
    scores = rfm(profile, now, rules)
    decay = math.pow(2.0, -days_between(DECAY_EPOCH, now) / rules.half_life_days)
    return ProfileFigures(
        as_of=now,
        average_order_value=average_order_value(profile),
        net_revenue=net,
        purchase_frequency_per_30d=round(orders * 30 / max(lifetime_days, 1.0), 4),
        mean_days_between_orders=round(mean_gap, 4) if mean_gap is not None else None,
        median_days_between_orders=round(median(gaps), 4) if gaps else None,
        days_since_last_order=days_since_last_order(profile, now),
        recency_score=scores.recency,
        frequency_score=scores.frequency,
        monetary_score=scores.monetary,
        rfm=scores.code,
        favourite_categories=favourites({k: v * decay for k, v in profile.category_scores.items()}),
        favourite_brands=favourites({k: v * decay for k, v in profile.brand_scores.items()}),
        price_tier=price_tier(profile, rules),
        coupon_share=coupon_share(profile),
        preferred_hour=preferred(profile.order_hours),
        preferred_weekday=preferred(profile.order_weekdays),
        mean_rating=mean_rating(profile),
        views_7d=rolling(profile, now, 0, 7),
        views_30d=rolling(profile, now, 0, 30),
        views_90d=rolling(profile, now, 0, 90),
        carts_7d=rolling(profile, now, 1, 7),
        carts_30d=rolling(profile, now, 1, 30),
        carts_90d=rolling(profile, now, 1, 90),
        orders_7d=rolling(profile, now, 2, 7),
        orders_30d=rolling(profile, now, 2, 30),
        orders_90d=rolling(profile, now, 2, 90),
    )


def figure_values(
    profile: Profile, now: datetime, names: frozenset[str], rules: ProfileRules = DEFAULT_RULES
) -> dict[str, Any]:
    """The figures named ``names`` as of ``now`` (none computed when no name is asked for)."""
    if not names:
        return {}
    values = figures(profile, now, rules).model_dump()
    return {name: values[name] for name in names}


STORE_ONLY = frozenset(
    {"offsets", "seen", "merge_ids", "published_version", "outbox", "session_keys", "cart_book"}
)


def snapshot(profile: Profile, now: datetime, rules: ProfileRules = DEFAULT_RULES) -> bytes:
    """The JSON published to the ``profiles`` topic: the profile and its figures."""
    body = profile.model_dump(mode="json", exclude=set(STORE_ONLY))
    body["figures"] = figures(profile, now, rules).model_dump(mode="json")
    return orjson.dumps(body)


def stored(profile: Profile) -> dict[str, Any]:
    """The compact form kept in the table: defaults left out."""
    return profile.model_dump(mode="json", exclude_defaults=True)
