"""The figures both published with a profile and read by segment rules: RFM scores, price
tier, coupon share, average order value, days since the last order, mean rating. One
definition each, with the bands of :class:`ProfileRules`. Pure.

:func:`stream_processors.figures.figures` publishes them (profiles topic, ClickHouse, the
dashboard, webhooks) and :func:`stream_processors.segments.features` hands them to the rules,
both from here, so a rule on ``price_tier`` or ``rfm_r`` sees the value the profile shows.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal, NamedTuple

from schemas.profile import Profile, RfmBands
from stream_processors.rules import ProfileRules

PriceTier = Literal["budget", "mid", "premium"]


class Rfm(NamedTuple):
    """The three 1-5 scores; a profile without orders scores 1 on each."""

    recency: int
    frequency: int
    monetary: int

    @property
    def code(self) -> str:
        return f"{self.recency}{self.frequency}{self.monetary}"


def score_up(value: float, bands: RfmBands) -> int:
    """1 at or under the first cut point, 5 above the last."""
    return 1 + sum(1 for cut in bands if value > cut)


def recency_score(profile: Profile, now: datetime, bands: RfmBands) -> int:
    """5 when the last order is at most the first cut point old, 1 beyond the last one (or
    without orders). Compared as durations, so that :func:`recency_changes` is exact."""
    if not profile.orders or profile.last_order_at is None:
        return 1
    since = now - profile.last_order_at
    return 5 - sum(1 for cut in bands if since > timedelta(days=cut))


def recency_changes(last_order_at: datetime, bands: RfmBands) -> list[datetime]:
    """The moments at which time alone lowers the recency score: the first instant past each
    cut point (a score holds *at* its cut point)."""
    return [last_order_at + timedelta(days=cut, microseconds=1) for cut in bands]


def rfm(profile: Profile, now: datetime, rules: ProfileRules) -> Rfm:
    return Rfm(
        recency_score(profile, now, rules.recency_bands_days),
        score_up(profile.orders, rules.frequency_bands),
        score_up(float(profile.revenue), rules.monetary_bands),
    )


def average_price(profile: Profile) -> float | None:
    """Mean price of the items viewed and bought (base currency)."""
    return float(profile.price_sum) / profile.price_count if profile.price_count else None


def price_tier(profile: Profile, rules: ProfileRules) -> PriceTier | None:
    """Where the prices a customer looks at and buys sit: against the catalogue's category
    medians (``category_medians``) when any of them priced an item, else the average price
    against the absolute cut points; None before any price is seen."""
    if profile.price_ratio_count:
        ratio = profile.price_ratio_sum / profile.price_ratio_count
        return tier(ratio, rules.budget_below, rules.premium_above)
    price = average_price(profile)
    if price is None:
        return None
    return tier(price, rules.budget_price_below, rules.premium_price_above)


def tier(value: float, budget_below: float, premium_above: float) -> PriceTier:
    if value < budget_below:
        return "budget"
    if value > premium_above:
        return "premium"
    return "mid"


def coupon_share(profile: Profile) -> float:
    """Share of orders with a coupon or a discount (0 without orders), to 4 places."""
    return round(profile.discount_orders / profile.orders, 4) if profile.orders else 0.0


def days_since_last_order(profile: Profile, now: datetime) -> float | None:
    """Days (to 4 places, about 9 seconds) since the latest order."""
    if profile.last_order_at is None:
        return None
    return round((now - profile.last_order_at).total_seconds() / 86400, 4)


def mean_rating(profile: Profile) -> float | None:
    return round(profile.rating_sum / profile.ratings, 4) if profile.ratings else None


def average_order_value(profile: Profile) -> Decimal:
    """Net revenue per order, to the cent, counting only orders in a currency with a rate
    (the others are kept apart from revenue); 0 without such orders."""
    priced = profile.orders - profile.unconverted_orders
    return (profile.revenue / priced).quantize(Decimal("0.01")) if priced else Decimal(0)
