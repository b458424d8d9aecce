"""Tunable constants of the profile: decay, bands, catalogue medians, money. Pure data."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from pydantic import BaseModel, Field

from schemas.profile import RfmBands
from stream_processors.money import MoneyRules

DECAY_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


class ProfileRules(BaseModel):
    """How figures are computed; one instance per worker, from its settings
    (``FOOTFALL_RULES`` as JSON). The RFM bands and price tier cut points are the only ones:
    the published figures and the segment rules read them alike (:mod:`.scores`)."""

    half_life_days: float = Field(default=30.0, gt=0, description="Interest decay half-life.")
    dedup_window_days: int = Field(
        default=7,
        ge=1,
        le=366,
        description="An event id received again within this many days (at any offset, "
        "through any collector) changes nothing.",
    )
    recency_bands_days: RfmBands = Field(
        default=(14, 30, 90, 180),
        description="Days since last order at the score cut points: ≤ first → 5 … > last → 1.",
    )
    frequency_bands: RfmBands = Field(
        default=(1, 2, 4, 8), description="Orders at the score cut points: ≤ first → 1 …"
    )
    monetary_bands: RfmBands = Field(
        default=(50, 150, 400, 1000), description="Net revenue cut points: ≤ first → 1 …"
    )
    category_medians: dict[str, Decimal] = Field(
        default_factory=dict, description="Catalogue median price per category."
    )
    budget_below: float = Field(
        default=0.8, description="Mean price / category median under → budget."
    )
    premium_above: float = Field(
        default=1.25, description="Mean price / category median over → premium."
    )
    budget_price_below: float = Field(
        default=30,
        description="Without a category median for any item seen: mean price (base currency) "
        "under → budget.",
    )
    premium_price_above: float = Field(default=120, description="… and over → premium.")
    money: MoneyRules = Field(
        default_factory=MoneyRules,
        description="Base currency per site and conversion rates (from FOOTFALL_MONEY_FILE).",
    )


DEFAULT_RULES = ProfileRules()
