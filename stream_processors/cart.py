"""The cart as a fold of its changes in event time, whatever order they arrive in. Pure.

In time order a cart is simple: an add puts items in, a remove takes them out (never below
zero), an order empties it. Events arrive in any order (two tabs, two devices, a client that
retries, a batch split over two requests), so the book keeps the changes since the latest
order sorted by ``(occurred_at, event id)`` and the cart is folded from them: an order that
arrives before its own ``cart_add`` still empties the cart of that item.
"""

from __future__ import annotations

from bisect import insort
from datetime import datetime
from decimal import Decimal

from schemas.profile import CartBook, CartLine

LINES_KEPT = 64
"""Cart changes kept between two orders; older ones are folded into the book's base."""


def step(cart: dict[str, int], value: Decimal, line: CartLine) -> tuple[dict[str, int], Decimal]:
    """The cart after one change, in time order."""
    quantity = max(0, cart.get(line.product, 0) + line.quantity)
    if quantity:
        cart[line.product] = quantity
    else:
        cart.pop(line.product, None)
    value += line.price * line.quantity
    return cart, (max(Decimal(0), value) if cart else Decimal(0))


def contents(book: CartBook) -> tuple[dict[str, int], Decimal]:
    """Products → quantity and the cart's value."""
    cart, value = dict(book.base), book.base_value
    for line in book.lines:
        cart, value = step(cart, value, line)
    return cart, value


def sort_key(line: CartLine) -> tuple[datetime, str]:
    return line.at, line.id


def with_line(book: CartBook, line: CartLine) -> CartBook:
    """The book after a cart change (ignored when an order at or after it emptied the cart)."""
    if book.cleared_at is not None and line.at <= book.cleared_at:
        return book
    if any(kept.id == line.id for kept in book.lines):
        return book
    if book.base_at is not None and line.at <= book.base_at:
        base, value = step(dict(book.base), book.base_value, line)
        return book.model_copy(update={"base": base, "base_value": value})
    lines = list(book.lines)
    insort(lines, line, key=sort_key)
    return folded(book.model_copy(update={"lines": lines}))


def folded(book: CartBook) -> CartBook:
    """At most ``LINES_KEPT`` lines: the oldest go into the base."""
    extra = len(book.lines) - LINES_KEPT
    if extra <= 0:
        return book
    old = CartBook(base=book.base, base_value=book.base_value, lines=book.lines[:extra])
    base, value = contents(old)
    return book.model_copy(
        update={
            "lines": book.lines[extra:],
            "base": base,
            "base_value": value,
            "base_at": book.lines[extra - 1].at,
        }
    )


def cleared(book: CartBook, at: datetime) -> CartBook:
    """The book after an order at ``at``: every change up to it no longer counts."""
    if book.cleared_at is not None and book.cleared_at >= at:
        return book
    keep_base = book.base_at is not None and book.base_at > at
    return CartBook(
        lines=[line for line in book.lines if line.at > at],
        base=book.base if keep_base else {},
        base_value=book.base_value if keep_base else Decimal(0),
        base_at=book.base_at if keep_base else None,
        cleared_at=at,
    )


def merged(a: CartBook, b: CartBook) -> CartBook:
    """Two profiles' books as one (a browser's anonymous cart joins its customer's)."""
    base = dict(a.base)
    for product, quantity in b.base.items():
        base[product] = base.get(product, 0) + quantity
    times = [at for at in (a.base_at, b.base_at) if at is not None]
    book = CartBook(
        base=base,
        base_value=a.base_value + b.base_value,
        base_at=max(times) if times else None,
    )
    ids = set()
    for line in sorted([*a.lines, *b.lines], key=sort_key):
        if line.id not in ids:
            ids.add(line.id)
            book = with_line(book, line)
    clear_times = [at for at in (a.cleared_at, b.cleared_at) if at is not None]
    return cleared(book, max(clear_times)) if clear_times else book
