"""Webhook subscriptions, the versioned payloads sent to marketing tools, and the records the
dispatcher keeps on its own topics (deliveries waiting for a retry or parked in the DLQ, and
one record per delivery attempt).

A payload is the JSON body of one signed POST. ``delivery_id`` is unique per subscription and
triggering event, is sent as the ``webhook-id`` header too, and stays the same across retries
and replays: receivers deduplicate on it.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

FIXED_KINDS = frozenset(
    {
        "segment.entered",
        "segment.exited",
        "order.placed",
        "order.first",
        "review.low_rating",
        "webhook.disabled",
        "webhook.test",
        "customer.erased",
    }
)
JOURNEY_KIND = re.compile(r"^journey\.([a-z][a-z0-9_]{0,63}|\*)$")


def valid_kind(kind: str) -> bool:
    """``journey.<stage>`` (or ``journey.*``), or one of :data:`FIXED_KINDS`."""
    return kind in FIXED_KINDS or JOURNEY_KIND.match(kind) is not None


class Subscription(BaseModel):
    """Where to send which events of one site."""

    model_config = ConfigDict(extra="forbid")

    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
    site_id: Annotated[str, Field(min_length=1, max_length=128)]
    url: Annotated[str, Field(max_length=2048)]
    secret: Annotated[str, Field(min_length=8, description="whsec_<base64>, as Standard Webhooks")]
    description: str = ""
    enabled: bool = True
    events: Annotated[list[str], Field(min_length=1)]
    segments: list[str] = Field(
        default_factory=list, description="For segment.* kinds: only these segments (empty = all)."
    )
    disabled_reason: str | None = None
    personal_traits: bool = Field(
        default=False,
        description="Send personal traits (e-mail, phone, name, address) in the profile "
        "summary; without it they are left out.",
    )

    @field_validator("events")
    @classmethod
    def known_kinds(cls, kinds: list[str]) -> list[str]:
        unknown = [k for k in kinds if not valid_kind(k)]
        if unknown:
            raise ValueError(f"unknown event kinds: {unknown}")
        return kinds

    def public(self) -> dict[str, object]:
        """The subscription as shown by the admin API: the secret is masked."""
        shown = self.model_dump(mode="json")
        shown["secret"] = self.secret[:10] + "…"
        return shown


# ------------------------------------------------------------------ payload parts


class CartLine(BaseModel):
    product_id: str
    name: str | None = None
    category: str | None = None
    price: Decimal | None = None
    quantity: int = 1


class Cart(BaseModel):
    items: list[CartLine] = Field(default_factory=list)
    value: Decimal = Decimal(0)
    currency: str | None = None


class LastOrder(BaseModel):
    order_id: str
    total: Decimal
    currency: str | None = Field(default=None, description="None: the site's own currency.")
    items: int = 0
    coupon: str | None = None
    at: datetime | None = None


class ProfileSummary(BaseModel):
    """What a marketing tool needs to act on a customer."""

    profile_id: str
    customer_id: str | None = None
    email: str | None = None
    phone: str | None = None
    traits: dict[str, str | int | float | bool | None] = Field(default_factory=dict)
    stage: str | None = None
    segments: list[str] = Field(default_factory=list)
    orders: int = 0
    revenue: Decimal = Decimal(0)
    currency: str | None = None
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    cart: Cart | None = None
    last_order: LastOrder | None = None


class JourneyData(BaseModel):
    object: Literal["journey_transition"] = "journey_transition"
    from_stage: str
    to_stage: str
    cause: str
    event_id: str | None = None
    at: datetime


class SegmentData(BaseModel):
    object: Literal["segment_change"] = "segment_change"
    segment: str
    change: Literal["entered", "exited"]
    cause: str
    event_id: str | None = None
    at: datetime


class OrderData(BaseModel):
    object: Literal["order"] = "order"
    event_id: str
    order_id: str
    total: Decimal
    currency: str | None = Field(default=None, description="None: the site's own currency.")
    items: list[CartLine] = Field(default_factory=list)
    coupon: str | None = None
    discount: Decimal = Decimal(0)
    first_order: bool = False
    at: datetime


class ReviewData(BaseModel):
    object: Literal["review"] = "review"
    event_id: str
    product_id: str
    rating: int
    title: str | None = None
    text: str | None = None
    at: datetime


class WebhookDisabledData(BaseModel):
    object: Literal["webhook_disabled"] = "webhook_disabled"
    subscription_id: str
    url: str
    reason: str
    at: datetime


class TestData(BaseModel):
    object: Literal["test"] = "test"
    message: str = "Test delivery from Footfall"
    at: datetime


class CustomerErasedData(BaseModel):
    """Sent to every endpoint that received data about an erased customer, whatever its
    filter: delete what you hold about these profiles."""

    object: Literal["customer_erased"] = "customer_erased"
    request_id: str
    profile_ids: list[str] = Field(description="The ids this endpoint was told about.")
    at: datetime


EventData = Annotated[
    JourneyData
    | SegmentData
    | OrderData
    | ReviewData
    | WebhookDisabledData
    | TestData
    | CustomerErasedData,
    Field(discriminator="object"),
]


class WebhookPayload(BaseModel):
    """The body of every webhook POST (version 1)."""

    schema_version: Literal[1] = 1
    delivery_id: str = Field(description="Same as the webhook-id header; dedup key.")
    type: str = Field(description="The event kind, e.g. journey.cart_abandoned.")
    timestamp: datetime = Field(description="When the triggering event happened.")
    site_id: str
    data: EventData
    profile: ProfileSummary | None = None


# ------------------------------------------------------------------ dispatcher records


class Delivery(BaseModel):
    """One payload for one subscription, as kept on the retry and DLQ topics."""

    delivery_id: str
    subscription_id: str
    site_id: str
    kind: str
    profile_id: str | None = Field(
        default=None, description="Whom it is about: none is sent once they withdraw consent."
    )
    body: str = Field(description="The exact JSON body that is signed and sent.")
    attempt: int = Field(default=1, ge=1, description="Number of the next attempt.")
    max_attempt: int = Field(ge=1, description="The attempt after which it is dead.")
    next_attempt_at: datetime
    created_at: datetime
    last_status: int | None = None
    last_error: str | None = None
    dead_at: datetime | None = None
    replay: str | None = Field(
        default=None, description="Set on a replay: sent even if already delivered once."
    )


Outcome = Literal["delivered", "failed", "dead"]


class AttemptRecord(BaseModel):
    """One delivery attempt, written to ClickHouse ``webhook_deliveries``."""

    delivery_id: str
    subscription_id: str
    site_id: str
    event_kind: str
    url: str
    attempt: int
    status: int = Field(description="HTTP status, 0 when there was no response.")
    outcome: Outcome
    latency_ms: float
    error: str = ""
    at: datetime
