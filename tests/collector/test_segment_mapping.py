"""Segment messages as Footfall events: every spec call and e-commerce event, validated by
the collector's own validation (no I/O), so a mapping that would send an SDK's message to
the DLQ fails here."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.batch import RequestFacts, validate_batch
from collector.segment_mapping import to_footfall
from schemas.events import Event

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
MUG = {"product_id": "p1", "name": "Mug", "price": 12.5, "quantity": 2, "currency": "eur"}


def stored(*messages: dict[str, Any], sent_at: datetime | None = None) -> list[Event]:
    """The messages through the mapping and the collector's validation; none refused."""
    base = {"anonymousId": "anon-1", "timestamp": NOW.isoformat()}
    raw = [to_footfall(base | m) for m in messages]
    result = validate_batch(raw, RequestFacts("shop", True, NOW, sent_at=sent_at))
    assert result.rejected == []
    return result.accepted


def one(message: dict[str, Any]) -> dict[str, Any]:
    event = stored(message)[0]
    return event.model_dump(mode="json", exclude_none=True)


SPEC_EVENTS = [
    ("Products Searched", {"query": "mug"}, "search"),
    ("Product List Viewed", {"list_id": "hot", "products": [MUG]}, "custom"),
    ("Product List Filtered", {"filters": [{"type": "size", "value": "L"}]}, "custom"),
    ("Promotion Viewed", {"promotion_id": "p"}, "custom"),
    ("Product Clicked", MUG, "click"),
    ("Product Viewed", MUG, "product_view"),
    ("Product Added", MUG, "cart_add"),
    ("Product Removed", MUG, "cart_remove"),
    ("Cart Viewed", {"cart_id": "c1", "products": [MUG]}, "custom"),
    ("Checkout Started", {"order_id": "o1", "value": 25, "products": [MUG]}, "checkout_started"),
    ("Checkout Step Viewed", {"step": 2}, "custom"),
    ("Checkout Step Completed", {"step": 2, "shipping_method": "UPS"}, "custom"),
    ("Payment Info Entered", {"step": 3, "payment_method": "card"}, "custom"),
    ("Order Completed", {"order_id": "o1", "total": 25, "products": [MUG]}, "order_placed"),
    ("Order Updated", {"order_id": "o1", "total": 20}, "custom"),
    ("Order Refunded", {"order_id": "o1", "total": 25}, "order_refunded"),
    ("Order Cancelled", {"order_id": "o1", "total": 25}, "custom"),
    ("Coupon Entered", {"coupon_id": "AUTUMN"}, "custom"),
    ("Coupon Applied", {"coupon_id": "AUTUMN", "discount": 2}, "custom"),
    ("Coupon Denied", {"coupon_id": "OLD", "reason": "expired"}, "custom"),
    ("Coupon Removed", {"coupon_id": "AUTUMN"}, "custom"),
    ("Product Added to Wishlist", MUG | {"wishlist_id": "w"}, "custom"),
    ("Product Shared", MUG | {"share_via": "email"}, "custom"),
    ("Cart Shared", {"cart_id": "c1"}, "custom"),
    ("Product Reviewed", {"product_id": "p1", "rating": 4, "review_body": "ok"}, "review"),
    ("Experiment Viewed", {"experiment_id": "e", "variation_id": "b"}, "experiment_exposure"),
]


@pytest.mark.parametrize(("name", "props", "expected"), SPEC_EVENTS)
def test_every_ecommerce_spec_event_is_stored(
    name: str, props: dict[str, Any], expected: str
) -> None:
    event = one({"type": "track", "event": name, "properties": props})
    assert event["type"] == expected
    if expected == "custom":
        assert event["properties"] == {"name": name, "data": props}


@pytest.mark.parametrize(
    ("money", "total"),
    [
        ({"total": 30, "revenue": 25, "shipping": 5}, "30"),
        ({"revenue": 25, "shipping": 4, "tax": 1}, "30"),
        ({"value": 30}, "30"),
        ({"discount": 1, "shipping": 6}, "30"),  # 2 x 12.5 - 1 + 6
        ({}, "25"),
    ],
)
def test_an_order_total_comes_from_total_revenue_value_or_its_products(
    money: dict[str, Any], total: str
) -> None:
    props = {"order_id": "o1", "currency": "usd", "products": [MUG]} | money
    order = one({"type": "track", "event": "Order Completed", "properties": props})
    assert Decimal(order["properties"]["total"]) == Decimal(total)
    assert order["properties"]["currency"] == "USD"


def test_values_an_sdk_sends_are_fitted_not_refused() -> None:
    messy = {"product_id": 1001.0, "price": 19.999999, "quantity": "3", "currency": "Euro"}
    event = one({"type": "track", "event": "Product Added", "properties": messy})
    props = event["properties"]
    assert (props["product_id"], Decimal(props["price"]), props["quantity"]) == ("1001", 20, 3)
    assert props["currency"] == "EUR"  # not a code: the default, not a refusal
    no_id = one({"type": "track", "event": "Order Completed", "messageId": "m-7"})
    assert no_id["properties"]["order_id"] == "m-7"
    assert Decimal(no_id["properties"]["total"]) == 0
    refund = one({"type": "track", "event": "Order Refunded", "properties": {"total": -12}})
    assert Decimal(refund["properties"]["amount"]) == 12
    long_title = one({"type": "page", "properties": {"title": "t" * 1000}})
    assert len(long_title["context"]["title"]) == 256


def test_a_typed_event_without_what_its_type_needs_becomes_a_custom_event() -> None:
    event = one({"type": "track", "event": "Product Viewed", "properties": {"name": "no id"}})
    assert event["properties"] == {"name": "Product Viewed", "data": {"name": "no id"}}
    assert "product_id" in event["extra"]["segment"]["unmapped"]
    many = {f"k{n}": n for n in range(100)}
    event = one({"type": "track", "event": "Wide", "properties": many})
    assert len(event["properties"]["data"]) == 64
    assert event["properties"]["data"]["_more"]["k99"] == 99


def test_identify_traits_come_from_traits_and_context_traits() -> None:
    message = {
        "type": "identify",
        "userId": "c-1",
        "context": {"traits": {"email": "a@example.com", "plan": "free"}},
        "traits": {"plan": "pro", "address": {"city": "Lyon"}, "tags": ["a", "b"]},
    }
    event = one(message)
    assert event["customer_id"] == "c-1"
    assert event["properties"]["traits"] == {
        "email": "a@example.com",
        "plan": "pro",
        "address.city": "Lyon",
        "tags": "a,b",
    }
    anonymous = one({"type": "identify", "traits": {"email": "b@example.com"}})
    assert anonymous["type"] == "custom"
    assert anonymous["properties"]["data"]["traits"] == {"email": "b@example.com"}


def test_group_traits_land_on_the_profile_as_company_traits() -> None:
    event = one({"type": "group", "userId": "c-1", "groupId": "acme", "traits": {"name": "Acme"}})
    assert event["type"] == "identify"
    assert event["properties"]["traits"] == {"company.name": "Acme", "company.id": "acme"}


def test_page_and_screen_keep_their_name_and_category() -> None:
    page, screen = stored(
        {
            "type": "page",
            "name": "Mug",
            "category": "Kitchen",
            "properties": {"url": "https://s/m"},
        },
        {"type": "screen", "name": "Cart", "properties": {"category": "Shop"}},
    )
    assert page.properties.model_dump(exclude_none=True) == {"name": "Mug", "category": "Kitchen"}
    assert page.context.url == "https://s/m"
    assert screen.properties.model_dump(exclude_none=True) == {"name": "Cart", "category": "Shop"}
    assert screen.extra["segment"]["call"] == "screen"


def test_the_client_clock_is_corrected_with_sent_at() -> None:
    """A device clock 1 h behind: its times are moved by the skew its sentAt shows."""
    behind = NOW - timedelta(hours=1)
    original = (behind - timedelta(minutes=5)).isoformat()
    event = stored(
        {"type": "page", "originalTimestamp": original, "timestamp": "2020-01-01T00:00:00Z"},
        sent_at=behind,
    )[0]
    assert event.occurred_at == NOW - timedelta(minutes=5)
    per_message = stored({"type": "page", "timestamp": original, "sentAt": behind.isoformat()})[0]
    assert per_message.occurred_at == NOW - timedelta(minutes=5)


def test_alias_links_the_previous_id_to_the_user() -> None:
    event = one({"type": "alias", "previousId": "old-anon", "userId": "c-1"})
    assert (event["type"], event["anonymous_id"], event["customer_id"]) == (
        "identify",
        "old-anon",
        "c-1",
    )


# What JSON from an SDK carries: 64-bit integers, finite numbers (the JavaScript SDKs cannot
# send others; a larger integer or NaN is garbage, refused per event as
# tests/collector/test_fuzz.py checks).
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=300)
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
spec_keys = st.sampled_from(
    [
        "product_id",
        "sku",
        "id",
        "name",
        "category",
        "brand",
        "price",
        "quantity",
        "currency",
        "order_id",
        "checkout_id",
        "total",
        "revenue",
        "value",
        "shipping",
        "tax",
        "discount",
        "subtotal",
        "coupon",
        "query",
        "rating",
        "review_body",
        "cart_id",
        "url",
        "title",
        "experiment_id",
        "variation_id",
        "score",
        "text",
        "reason",
        "products",
    ]
)
properties = st.dictionaries(spec_keys | st.text(max_size=20), values, max_size=12)
names = st.sampled_from([name for name, _, _ in SPEC_EVENTS] + ["Feedback Submitted"]) | st.text(
    min_size=1, max_size=200
)


@settings(max_examples=150, deadline=None)
@given(
    call=st.sampled_from(["track", "page", "screen", "identify", "group", "alias"]),
    name=names,
    props=properties,
    traits=st.dictionaries(st.text(max_size=30), values, max_size=80),
    user=st.none() | st.text(min_size=1, max_size=100),
)
def test_whatever_an_sdk_sends_through_its_api_is_stored_not_refused(
    call: str, name: str, props: dict[str, Any], traits: dict[str, Any], user: str | None
) -> None:
    """Any event name, any JSON in properties and traits: stored, never sent to the DLQ."""
    message = {"type": call, "event": name, "properties": props, "traits": traits}
    message |= {"userId": user, "groupId": "g", "previousId": "old"} if user else {}
    stored(message)
