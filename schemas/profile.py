"""The behaviour profile of one customer (or one not-yet-identified browser)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.consent import ConsentState

Stage = Literal[
    "visitor",
    "engaged",
    "considering",
    "cart",
    "checkout",
    "customer",
    "repeat_customer",
    "loyal",
    "cart_abandoned",
    "checkout_abandoned",
    "at_risk",
    "churned",
    "won_back",
]
STAGES: tuple[Stage, ...] = Stage.__args__  # type: ignore[attr-defined]


class Touch(BaseModel):
    """Where a visit came from: UTM fields, referrer class and coupon code."""

    at: datetime
    source: str | None = None
    medium: str | None = None
    campaign: str | None = None
    referrer: str = "direct"
    coupon: str | None = None


class Outgoing(BaseModel):
    """The records one message led to, kept with the state it left behind.

    Records and state reach the broker on different partitions, in no guaranteed order: after
    a crash the state may be there while a record is not. A message read again is known by its
    id and its records are sent again (their consumers drop duplicates).
    """

    id: str = Field(description="Short id of the message (event, merge, absorb or tick).")
    at: float = Field(description="Wall-clock seconds when the records were sent.")
    records: list[tuple[str, str, str]] = Field(
        description="(topic role, key, JSON value) of each record."
    )


class CartLine(BaseModel):
    """One cart change: ``quantity`` added (positive) or removed (negative) at ``at``."""

    at: datetime
    id: str = Field(description="Short id of the event (orders lines of the same instant).")
    product: str
    quantity: int
    price: Decimal = Decimal(0)


class CartBook(BaseModel):
    """The cart changes since the latest order, kept in event time so that the cart comes
    out the same whatever order its events arrive in.

    Only the latest lines are kept; older ones are folded into ``base``. A late line older
    than ``base_at`` is folded into the base where it arrives (the one case that is not
    order-free: more than the kept number of cart changes without an order in between).
    """

    lines: list[CartLine] = Field(default_factory=list, description="Sorted by (at, id).")
    base: dict[str, int] = Field(default_factory=dict, description="Cart before the lines.")
    base_value: Decimal = Decimal(0)
    base_at: datetime | None = Field(default=None, description="Newest line folded into base.")
    cleared_at: datetime | None = Field(
        default=None, description="Latest order: cart changes up to it no longer count."
    )


class StageCue(BaseModel):
    """The latest cart or checkout event in event time: what the journey stage follows, so
    that a late, older one moves nothing by itself."""

    at: datetime
    id: str
    kind: str


class Profile(BaseModel):
    """State kept per profile in the worker's table and published as snapshots."""

    model_config = ConfigDict(extra="ignore")

    site_id: str
    profile_id: str
    customer_id: str | None = None
    anonymous_ids: list[str] = Field(default_factory=list)
    version: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    event_count: int = 0
    counts: dict[str, int] = Field(default_factory=dict)
    session_keys: str = Field(
        default="",
        description="Sorted 10-hex-digit hashes of the session ids seen (distinct sessions).",
    )
    session_count: int = 0
    orders: int = 0
    revenue: Decimal = Decimal(0)
    currency: str | None = None
    first_order_at: datetime | None = None
    last_order_at: datetime | None = None
    merged_into: str | None = Field(
        default=None, description="Set on an anonymous profile merged into a customer's."
    )
    stage: Stage = "visitor"
    stage_since: datetime | None = None
    stage_cue: StageCue | None = None
    stage_seconds: dict[str, float] = Field(
        default_factory=dict, description="Time spent in each stage left so far."
    )
    due_at: datetime | None = Field(
        default=None, description="When a timer transition (abandonment, risk) is due."
    )
    segments: list[str] = Field(default_factory=list)
    segments_due_at: datetime | None = Field(
        default=None, description="When a time-based segment rule (last 24 h, recency) may change."
    )
    cart: dict[str, int] = Field(default_factory=dict, description="product id → quantity")
    cart_value: Decimal = Decimal(0)
    cart_updated_at: datetime | None = None
    cart_book: CartBook = Field(default_factory=CartBook, description="Cart changes, event time.")
    checkout_at: datetime | None = None
    order_times: list[datetime] = Field(
        default_factory=list, description="Recent order times, oldest first."
    )
    category_views: dict[str, int] = Field(default_factory=dict)
    price_sum: Decimal = Field(default=Decimal(0), description="Viewed and bought prices.")
    price_count: int = 0
    recent_cart_adds: list[datetime] = Field(default_factory=list)
    ratings: int = 0
    rating_sum: int = 0
    min_rating: int | None = None
    refunds: int = 0
    refunded: Decimal = Decimal(0)
    unconverted: dict[str, Decimal] = Field(
        default_factory=dict,
        description="Currency → orders less refunds in currencies without a rate to the site's "
        "base currency: kept apart, never in revenue or refunded.",
    )
    unconverted_orders: int = Field(
        default=0, description="Orders among ``orders`` whose total is in ``unconverted``."
    )
    unconverted_refunds: int = Field(
        default=0, description="Refunds among ``refunds`` whose amount is in ``unconverted``."
    )
    discount_orders: int = Field(default=0, description="Orders with a coupon or a discount.")
    search_terms: list[str] = Field(default_factory=list, description="Recent, newest last.")
    category_scores: dict[str, float] = Field(
        default_factory=dict, description="Decayed interest, scaled to the decay epoch."
    )
    brand_scores: dict[str, float] = Field(
        default_factory=dict, description="Decayed interest, scaled to the decay epoch."
    )
    price_ratio_sum: float = Field(
        default=0.0, description="Sum of price / category median of viewed and bought items."
    )
    price_ratio_count: int = 0
    order_hours: dict[str, int] = Field(default_factory=dict, description="UTC hour → orders")
    order_weekdays: dict[str, int] = Field(
        default_factory=dict, description="ISO weekday (1 = Monday) → orders"
    )
    devices: list[str] = Field(default_factory=list)
    browsers: list[str] = Field(default_factory=list)
    country: str | None = None
    country_at: datetime | None = None
    first_touch: Touch | None = None
    last_touch: Touch | None = None
    consent: ConsentState = Field(
        default_factory=ConsentState, description="Latest consent per purpose, event time."
    )
    experiments: dict[str, str] = Field(
        default_factory=dict, description="experiment → variant seen"
    )
    days: dict[str, list[int]] = Field(
        default_factory=dict,
        description="Day number (UTC days since 1970) → [views, cart adds, orders], last 90 days.",
    )
    offsets: dict[str, int] = Field(
        default_factory=dict,
        description="Source partition → highest source offset applied: replays change nothing.",
    )
    seen: dict[str, str] = Field(
        default_factory=dict,
        description="Receipt day (UTC days since 1970) → sorted 10-hex-digit short ids of "
        "the events applied that day, for the dedup window: a retry at any offset is dropped.",
    )
    merge_ids: list[str] = Field(
        default_factory=list, description="Short ids of the merges folded in (never twice)."
    )
    published_version: int = Field(default=0, description="Version last sent as a snapshot.")
    outbox: list[Outgoing] = Field(
        default_factory=list, description="Records of recent messages, sent again on replay."
    )

    @property
    def average_order_value(self) -> Decimal:
        priced = self.orders - self.unconverted_orders
        return self.revenue / priced if priced else Decimal(0)


class StageTransition(BaseModel):
    """A move of a profile from one journey stage to another."""

    site_id: str
    profile_id: str
    from_stage: Stage
    to_stage: Stage
    cause: str
    event_id: str | None = None
    at: datetime


RfmBands = tuple[float, float, float, float]


class ProfileFigures(BaseModel):
    """Figures derived from a profile at a moment; published with every snapshot."""

    as_of: datetime
    average_order_value: Decimal
    net_revenue: Decimal
    purchase_frequency_per_30d: float
    mean_days_between_orders: float | None
    median_days_between_orders: float | None
    days_since_last_order: float | None
    recency_score: int
    frequency_score: int
    monetary_score: int
    rfm: str
    favourite_categories: list[str]
    favourite_brands: list[str]
    price_tier: Literal["budget", "mid", "premium"] | None
    coupon_share: float
    preferred_hour: int | None
    preferred_weekday: int | None
    mean_rating: float | None
    views_7d: int
    views_30d: int
    views_90d: int
    carts_7d: int
    carts_30d: int
    carts_90d: int
    orders_7d: int
    orders_30d: int
    orders_90d: int
