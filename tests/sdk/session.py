"""One shopper's session as Segment calls, the same for every SDK, and what Footfall must store.

Each SDK driver plays :func:`session` with its own API and returns the messages it sent, in
order; the tests then find every one of them in ClickHouse by its id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

MUG = {"product_id": "p-mug", "sku": "MUG-1", "name": "Mug", "category": "Kitchen", "price": 12.5}
LAMP = {"product_id": "p-lamp", "name": "Lamp", "brand": "Lux", "price": 49.9}
ORDER_TOTAL = Decimal("84.9")  # 2 mugs + 1 lamp = 74.9, shipping 10


@dataclass(frozen=True)
class Call:
    """One Segment call and the Footfall event type it must become."""

    call: str
    expect: str
    identified: bool
    event: str | None = None
    name: str | None = None
    category: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    traits: dict[str, Any] = field(default_factory=dict)
    group_id: str | None = None
    previous_id: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, {})}


def order_amount(amount_field: str) -> dict[str, Any]:
    """The order's money the way a shop may send it: ``total`` is what was paid; the spec's
    ``revenue`` excludes shipping; ``value`` is older analytics.js usage."""
    if amount_field == "revenue":
        return {"revenue": 74.9, "shipping": 10}
    return {amount_field: float(ORDER_TOTAL), "shipping": 10}


def session(order_id: str, amount_field: str, previous_id: str) -> list[Call]:
    products = [MUG | {"quantity": 2}, LAMP | {"quantity": 1}]
    order = {"order_id": order_id, "currency": "EUR", "coupon": "AUTUMN", "products": products}
    return [
        Call("page", "page_view", False, name="Home", category="Shop"),
        Call("track", "search", False, event="Products Searched", properties={"query": "mug"}),
        Call("track", "custom", False, event="Product List Viewed", properties={"list_id": "l1"}),
        Call("track", "click", False, event="Product Clicked", properties=MUG),
        Call("page", "page_view", False, name="Mug", category="Kitchen"),
        Call("track", "product_view", False, event="Product Viewed", properties=MUG),
        Call("track", "cart_add", False, event="Product Added", properties=MUG | {"quantity": 2}),
        Call("track", "cart_add", False, event="Product Added", properties=LAMP),
        Call("track", "cart_remove", False, event="Product Removed", properties=LAMP),
        Call("track", "cart_add", False, event="Product Added", properties=LAMP),
        Call("track", "custom", False, event="Cart Viewed", properties={"products": products}),
        Call(
            "identify",
            "identify",
            True,
            traits={"email": "ada@example.com", "name": "Ada", "address": {"city": "Lyon"}},
        ),
        Call("group", "identify", True, group_id="acme", traits={"name": "Acme", "plan": "gold"}),
        Call("alias", "identify", True, previous_id=previous_id),
        Call(
            "track",
            "checkout_started",
            True,
            event="Checkout Started",
            properties=order | {"value": 74.9},
        ),
        Call("track", "custom", True, event="Checkout Step Completed", properties={"step": 2}),
        Call("track", "custom", True, event="Payment Info Entered", properties={"step": 3}),
        Call("track", "custom", True, event="Coupon Applied", properties={"coupon_id": "AUTUMN"}),
        Call(
            "track",
            "order_placed",
            True,
            event="Order Completed",
            properties=order | order_amount(amount_field),
        ),
        Call("screen", "page_view", True, name="Thanks", category="Checkout"),
        Call(
            "track",
            "review",
            True,
            event="Product Reviewed",
            properties={"product_id": "p-mug", "rating": 5, "review_body": "Lovely"},
        ),
        Call("track", "custom", True, event="Newsletter Joined", properties={"list": "weekly"}),
    ]
