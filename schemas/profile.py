"""The behaviour profile of one customer (or one not-yet-identified browser)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Stage = Literal[
    "visitor",
    "engaged",
    "cart",
    "customer",
    "repeat_customer",
]


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
    sessions: list[str] = Field(default_factory=list, description="Recent session ids.")
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
    seen_ids: list[str] = Field(
        default_factory=list, description="Recent event ids: replays change nothing."
    )

    @property
    def average_order_value(self) -> Decimal:
        return self.revenue / self.orders if self.orders else Decimal(0)


class StageTransition(BaseModel):
    """A move of a profile from one journey stage to another."""

    site_id: str
    profile_id: str
    from_stage: Stage
    to_stage: Stage
    cause: str
    event_id: str | None = None
    at: datetime
