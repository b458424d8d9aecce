"""The profile summary sent with a webhook, and the cart it includes. Pure functions."""

from __future__ import annotations

import contextlib
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from schemas.personal import PERSONAL_TRAITS, reveal
from schemas.webhooks import Cart, CartLine, LastOrder, ProfileSummary

TRAIT_TYPES = (str, int, float, bool, type(None))


def apply_cart(cart: Cart, event: dict[str, Any]) -> Cart:
    """The cart after a cart, checkout or order event of the same profile."""
    kind = event.get("type")
    props = event.get("properties") or {}
    if kind == "order_placed":
        return Cart()
    if kind == "checkout_started" and props.get("items"):
        items = [CartLine.model_validate(item) for item in props["items"]]
        return priced(items, props.get("currency") or cart.currency)
    if kind not in ("cart_add", "cart_remove"):
        return cart
    lines = {line.product_id: line for line in cart.items}
    product = str(props.get("product_id", ""))
    quantity = int(props.get("quantity") or 1)
    current = lines.get(product)
    if kind == "cart_add":
        held = current.quantity if current else 0
        lines[product] = CartLine(
            product_id=product,
            name=props.get("name") or (current.name if current else None),
            category=props.get("category") or (current.category if current else None),
            price=Decimal(str(props["price"])) if props.get("price") is not None else None,
            quantity=held + quantity,
        )
    elif current is not None:
        left = current.quantity - quantity
        if left > 0:
            lines[product] = current.model_copy(update={"quantity": left})
        else:
            del lines[product]
    return priced(list(lines.values()), props.get("currency") or cart.currency)


def priced(items: list[CartLine], currency: str | None) -> Cart:
    value = sum(((line.price or Decimal(0)) * line.quantity for line in items), Decimal(0))
    return Cart(items=items, value=value, currency=currency)


def last_order_of(event: dict[str, Any]) -> LastOrder | None:
    props = event.get("properties") or {}
    try:
        return LastOrder(
            order_id=str(props["order_id"]),
            total=Decimal(str(props["total"])),
            currency=props.get("currency"),
            items=sum(int(item.get("quantity", 1)) for item in props.get("items") or []),
            coupon=props.get("coupon"),
            at=event.get("occurred_at"),
        )
    except (KeyError, ValueError, ArithmeticError, ValidationError):
        return None


def clean_traits(raw: Any) -> dict[str, str | int | float | bool | None]:
    if not isinstance(raw, dict):
        return {}
    return {str(k): v for k, v in raw.items() if isinstance(v, TRAIT_TYPES)}


def revealed(summary: ProfileSummary, key: bytes | None, site_id: str) -> ProfileSummary:
    """The summary for a subscription that asked for personal traits: the ones the collector
    sealed are opened with the site's key (hashed ones stay hashed). Pure."""
    traits = reveal(summary.traits, key, site_id)
    return summary.model_copy(update={"traits": traits, **contacts(traits)})


def contacts(traits: dict[str, Any]) -> dict[str, str | None]:
    """The summary's ``email`` and ``phone``: the traits of those names, when they are text."""
    return {
        name: value if isinstance(value := traits.get(name), str) else None
        for name in ("email", "phone")
    }


def without_personal(summary: ProfileSummary) -> ProfileSummary:
    """The summary for a subscription that did not ask for personal traits. Pure."""
    traits = {k: v for k, v in summary.traits.items() if k not in PERSONAL_TRAITS}
    return summary.model_copy(update={"email": None, "phone": None, "traits": traits})


def summarize(
    profile_id: str,
    snapshot: dict[str, Any] | None,
    segments: list[str],
    cart: Cart | None,
    traits: dict[str, Any],
    last_order: LastOrder | None,
) -> ProfileSummary:
    """Everything known about a profile, from its latest snapshot and the dispatcher's cache.

    Fields that a snapshot carries itself (``traits``, ``segments``, ``cart``) win over the
    cache's, which is built from the events and may be a moment behind.
    """
    snap = snapshot or {}
    merged_traits = clean_traits(traits) | clean_traits(snap.get("traits"))
    snap_cart = snap.get("cart")
    if isinstance(snap_cart, dict):
        with contextlib.suppress(ValidationError):
            cart = Cart.model_validate(snap_cart)
    snap_segments = snap.get("segments")
    if isinstance(snap_segments, list) and snap_segments:
        segments = sorted({str(s) for s in snap_segments} | set(segments))
    return ProfileSummary(
        profile_id=profile_id,
        customer_id=snap.get("customer_id")
        or (None if profile_id.startswith("anon-") else profile_id),
        **contacts(merged_traits),
        traits=merged_traits,
        stage=snap.get("stage"),
        segments=segments,
        orders=int(snap.get("orders") or 0),
        revenue=Decimal(str(snap.get("revenue") or 0)),
        currency=snap.get("currency"),
        first_seen=snap.get("first_seen"),
        last_seen=snap.get("last_seen"),
        cart=cart if cart is not None and cart.items else None,
        last_order=last_order,
    )
