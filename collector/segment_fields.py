"""Segment field values fitted to Footfall's field types. Pure.

An SDK sends what its caller gave it: prices as floats with many decimals, ``"usd"``,
quantities of ``2.0``, page titles longer than Footfall keeps, traits nested in objects. A
value refused by Footfall's models would cost the whole event (a 2xx answered and the event
in the DLQ), so each helper here either fits the value to the field (rounding money to the
model's four decimals, upper-casing a currency, clipping free text, flattening traits) or
returns None for a value that has no fitting form, and the caller falls back.
"""

from __future__ import annotations

import math
import re
from collections import deque
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from schemas.limits import INT64_MAX, INT64_MIN

MONEY_QUANTUM = Decimal("0.0001")
MAX_MONEY = Decimal("9999999999.9999")  # Money: 14 digits, 4 after the point
CURRENCY = re.compile(r"^[A-Z]{3}$")
MAX_TRAITS = 64
MAX_QUANTITY = 10_000
Scalar = str | int | float | bool | None


def mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def first(props: dict[str, Any], *names: str) -> Any:
    """The first of ``names`` present (not None) in ``props``."""
    for name in names:
        if props.get(name) is not None:
            return props[name]
    return None


def text(value: Any) -> str | None:
    """A scalar as text; None for a list or an object (their repr is no id, and a deep one
    would exhaust Python's recursion limit)."""
    if value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a numeric id sent as 1001.0 is "1001"
    return str(value)


def clip(value: Any, limit: int) -> str | None:
    """Free text cut to ``limit`` characters (a title or a name, never an id)."""
    found = text(value)
    return found[:limit] if found else None


def ident(value: Any, limit: int = 128) -> str | None:
    """An id as text, None when it is empty or longer than ``limit``: cutting an id could
    make two different ones equal."""
    found = text(value)
    return found if found and len(found) <= limit else None


def drop_none(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}


def decimal(value: Any) -> Decimal | None:
    """A finite number (JSON number or numeric string) as a Decimal."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        return None
    try:
        found = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return found if found.is_finite() else None


def money(value: Any) -> str | None:
    """An amount rounded to four decimals, as text (never a float); None when it is not a
    number, negative or beyond what the store holds."""
    found = decimal(value)
    if found is None or found < 0 or found > MAX_MONEY:
        return None
    return f"{found.quantize(MONEY_QUANTUM, rounding=ROUND_HALF_EVEN).normalize():f}"


def amount(value: Any) -> str | None:
    """A refunded amount: Segment examples send it negative; its size is what counts."""
    found = decimal(value)
    return money(abs(found)) if found is not None else None


def add_money(*values: str | None) -> str | None:
    """The sum of the given amounts, None when the first is None."""
    if values[0] is None:
        return None
    return money(sum((Decimal(v) for v in values if v is not None), Decimal(0)))


def currency(value: Any) -> str | None:
    """An ISO 4217 code (``usd`` is ``USD``), None for anything else."""
    found = text(value)
    code = found.strip().upper() if found else ""
    return code if CURRENCY.match(code) else None


def quantity(value: Any) -> int | None:
    """A whole quantity in Footfall's range: ``2.0`` is 2, below 1 is 1, above the cap is the
    cap; None when it is not a number."""
    found = decimal(value)
    if found is None:
        return None
    return min(max(int(found.to_integral_value()), 1), MAX_QUANTITY)


def rating(value: Any) -> int | None:
    """A 1-5 star rating (4.6 is 5); None outside the scale."""
    found = decimal(value)
    if found is None:
        return None
    stars = int(found.to_integral_value(rounding=ROUND_HALF_EVEN))
    return stars if 1 <= stars <= 5 else None


def scalar(value: Any) -> Scalar:
    """A trait value Footfall keeps: numbers outside int64 or not finite become text."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value if INT64_MIN <= value <= INT64_MAX else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    return text(value)


def flat_traits(*sources: Any) -> dict[str, Scalar]:
    """Traits as Footfall's flat map: later sources win, nested objects become dotted keys
    (``address.city``, ``company.name``), lists become comma-joined text, and at most
    ``MAX_TRAITS`` are kept (the first ones, in the SDK's order)."""
    flat: dict[str, Scalar] = {}
    pending: deque[tuple[str, Any]] = deque()
    for source in sources:
        pending.extend(mapping(source).items())
    while pending:
        key, value = pending.popleft()
        if isinstance(value, dict):
            pending.extendleft(reversed([(f"{key}.{k}", v) for k, v in value.items()]))
            continue
        if isinstance(value, list):
            kept: Scalar = ",".join(p for p in (text(v) for v in value) if p is not None)
        else:
            kept = scalar(value)
        if key in flat or len(flat) < MAX_TRAITS:
            flat[key] = kept
    return flat
