"""The event envelope and the typed properties of every event type.

An event arrives from a browser or a shop backend, is validated here, enriched by the
collector and written to Kafka as JSON. Money is always a ``Decimal`` with an ISO 4217
currency code, never a float.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)

from schemas.consent import Consent
from schemas.limits import (
    EventTime,
    FiniteFloat,
    Int64,
    JsonObject,
    ahead_of_receipt_problem,
)

SCHEMA_VERSION = 1

Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code")]
MONEY_JSON_SCHEMA = {
    "description": "At most 10 digits before the point and 4 after; a number or its text.",
    "anyOf": [
        {"type": "number", "minimum": 0, "maximum": 9_999_999_999.9999, "multipleOf": 0.0001},
        {"type": "string", "pattern": r"^[0-9]{1,10}(\.[0-9]{1,4})?$"},
    ],
}
Money = Annotated[
    Decimal, Field(ge=0, max_digits=14, decimal_places=4), WithJsonSchema(MONEY_JSON_SCHEMA)
]
ShortText = Annotated[str, Field(max_length=256)]
Identifier = Annotated[str, Field(min_length=1, max_length=128)]


class Strict(BaseModel):
    """Base for every model: unknown fields are refused, so typos are caught."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Utm(Strict):
    source: ShortText | None = None
    medium: ShortText | None = None
    campaign: ShortText | None = None
    term: ShortText | None = None
    content: ShortText | None = None


class Device(Strict):
    """Filled by the collector from the user agent."""

    type: Literal["desktop", "mobile", "tablet", "bot", "other"] = "other"
    browser: ShortText | None = None
    os: ShortText | None = None
    is_bot: bool = False


class Context(Strict):
    url: Annotated[str, Field(max_length=2048)] | None = None
    path: Annotated[str, Field(max_length=2048)] | None = None
    referrer: Annotated[str, Field(max_length=2048)] | None = None
    title: ShortText | None = None
    utm: Utm = Utm()
    coupon: ShortText | None = None
    landing_page: Annotated[str, Field(max_length=2048)] | None = None
    user_agent: Annotated[str, Field(max_length=1024)] | None = None
    locale: Annotated[str, Field(max_length=35)] | None = None
    screen: Annotated[str, Field(max_length=32)] | None = None
    timezone: Annotated[str, Field(max_length=64)] | None = None
    consent: Consent | None = Field(
        default=None,
        description="Consent by purpose (schemas.consent); true/false stands for both.",
    )
    # Set by the collector, never trusted from the client.
    ip: Annotated[str, Field(max_length=64)] | None = None
    country: Annotated[str, Field(max_length=2)] | None = None
    device: Device | None = None


class LineItem(Strict):
    product_id: Identifier
    name: ShortText | None = None
    category: ShortText | None = None
    brand: ShortText | None = None
    price: Money
    quantity: Annotated[int, Field(ge=1, le=10_000)] = 1


# ---------------------------------------------------------------- properties per type


class PageViewProperties(Strict):
    name: ShortText | None = Field(default=None, description="The page's or screen's name.")
    category: ShortText | None = None


class ClickProperties(Strict):
    element: ShortText | None = None
    product_id: Identifier | None = Field(default=None, description="A product clicked.")
    text: ShortText | None = None
    href: Annotated[str, Field(max_length=2048)] | None = None


class ProductProperties(Strict):
    product_id: Identifier
    name: ShortText | None = None
    category: ShortText | None = None
    brand: ShortText | None = None
    price: Money | None = None
    currency: Currency = "EUR"


class CartProperties(ProductProperties):
    quantity: Annotated[int, Field(ge=1, le=10_000)] = 1
    cart_id: Identifier | None = None


class SearchProperties(Strict):
    query: ShortText
    results: Annotated[Int64, Field(ge=0)] | None = None


class CheckoutProperties(Strict):
    cart_id: Identifier | None = None
    items: Annotated[list[LineItem], Field(max_length=500)] = []
    value: Money | None = None
    currency: Currency = "EUR"


class OrderProperties(Strict):
    order_id: Identifier
    items: Annotated[list[LineItem], Field(max_length=500)] = []
    subtotal: Money | None = None
    discount: Money = Decimal(0)
    shipping: Money = Decimal(0)
    tax: Money = Decimal(0)
    total: Money
    currency: Currency | None = Field(
        default=None, description="None: the site's own (base) currency."
    )
    coupon: ShortText | None = None
    payment_method: ShortText | None = None


class RefundProperties(Strict):
    order_id: Identifier
    amount: Money
    currency: Currency | None = Field(
        default=None, description="None: the site's own (base) currency."
    )
    reason: ShortText | None = None


class IdentifyProperties(Strict):
    traits: Annotated[dict[str, str | Int64 | FiniteFloat | bool | None], Field(max_length=64)] = {}


class ReviewProperties(Strict):
    product_id: Identifier
    rating: Annotated[int, Field(ge=1, le=5)]
    title: ShortText | None = None
    text: Annotated[str, Field(max_length=5000)] | None = None


class FeedbackProperties(Strict):
    score: Annotated[int, Field(ge=0, le=10)] | None = None
    text: Annotated[str, Field(max_length=5000)] | None = None
    topic: ShortText | None = None


class ExperimentProperties(Strict):
    experiment: Identifier
    variant: Identifier


class CustomProperties(Strict):
    name: Identifier
    data: Annotated[JsonObject, Field(max_length=64)] = {}


# ---------------------------------------------------------------- the envelope


class Envelope(Strict):
    event_id: UUID = Field(description="Made by the client; the deduplication key.")
    site_id: Identifier
    anonymous_id: Identifier
    customer_id: Identifier | None = None
    session_id: Identifier | None = None
    occurred_at: EventTime = Field(description="Client clock, corrected for skew.")
    sent_at: EventTime | None = None
    received_at: EventTime | None = None
    schema_version: Int64 = SCHEMA_VERSION
    context: Context = Context()
    verified: bool = Field(default=False, description="True when sent with the site's secret key.")
    extra: Annotated[JsonObject, Field(max_length=32)] = Field(
        default_factory=dict, description="Unknown top-level fields, kept, bounded."
    )

    @field_validator("received_at")
    @classmethod
    def not_ahead_of_receipt(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        """An event cannot have happened long after the server received it (schemas.limits).
        A field check, not a model one: a model validator would wrap every member of the
        event union and lengthen every validation error's title."""
        occurred_at = info.data.get("occurred_at")
        if occurred_at is not None:
            problem = ahead_of_receipt_problem(occurred_at, value)
            if problem is not None:
                raise ValueError(problem)
        return value


class PageView(Envelope):
    type: Literal["page_view"]
    properties: PageViewProperties = PageViewProperties()


class Click(Envelope):
    type: Literal["click"]
    properties: ClickProperties = ClickProperties()


class ProductView(Envelope):
    type: Literal["product_view"]
    properties: ProductProperties


class Search(Envelope):
    type: Literal["search"]
    properties: SearchProperties


class CartAdd(Envelope):
    type: Literal["cart_add"]
    properties: CartProperties


class CartRemove(Envelope):
    type: Literal["cart_remove"]
    properties: CartProperties


class CheckoutStarted(Envelope):
    type: Literal["checkout_started"]
    properties: CheckoutProperties = CheckoutProperties()


class OrderPlaced(Envelope):
    type: Literal["order_placed"]
    properties: OrderProperties


class OrderRefunded(Envelope):
    type: Literal["order_refunded"]
    properties: RefundProperties


class Identify(Envelope):
    type: Literal["identify"]
    customer_id: Identifier
    properties: IdentifyProperties = IdentifyProperties()


class Review(Envelope):
    type: Literal["review"]
    properties: ReviewProperties


class Feedback(Envelope):
    type: Literal["feedback"]
    properties: FeedbackProperties = FeedbackProperties()


class ExperimentExposure(Envelope):
    type: Literal["experiment_exposure"]
    properties: ExperimentProperties


class Custom(Envelope):
    type: Literal["custom"]
    properties: CustomProperties


Event = Annotated[
    (
        PageView
        | Click
        | ProductView
        | Search
        | CartAdd
        | CartRemove
        | CheckoutStarted
        | OrderPlaced
        | OrderRefunded
        | Identify
        | Review
        | Feedback
        | ExperimentExposure
        | Custom
    ),
    Field(discriminator="type"),
]

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)
EVENT_MODELS: dict[str, type[Envelope]] = {
    model.model_fields["type"].annotation.__args__[0]: model  # type: ignore[union-attr]
    for model in Envelope.__subclasses__()
}
EVENT_TYPES: tuple[str, ...] = tuple(EVENT_MODELS)
MONEY_EVENT_TYPES = frozenset({"order_placed", "order_refunded"})


def parse_event(data: Any) -> Event:
    """Validate one event (a dict or JSON bytes); raises ``pydantic.ValidationError``."""
    if isinstance(data, (bytes, str)):
        return EVENT_ADAPTER.validate_json(data)
    return EVENT_ADAPTER.validate_python(data)


def dump_event(event: Envelope) -> bytes:
    """The event as the JSON written to Kafka."""
    return event.model_dump_json(exclude_none=True).encode()
