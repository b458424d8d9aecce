"""What a valid event is, in numbers: one definition for the collector, the worker and the sink.

Pure. The collector answers 2xx only for events that every later stage will take, so the
bounds below are set by what those stages can hold, and each says which stage it protects:

- **Time**: ``occurred_at`` (after the collector's clock-skew correction), ``sent_at`` and
  ``received_at`` lie in ``[2000-01-01, 2100-01-01)`` UTC, and ``occurred_at`` is at most a day
  after ``received_at``. Earlier dates are broken client clocks (the epoch, year 1); the
  worker's interest decay is ``2 ** (days since 2024 / half-life)``, which stays far inside a
  float up to 2100 (``2 ** 925`` with the default 30-day half-life; uncapped, it would
  overflow after 2108);
  journey timers and purchase intervals added to a 2100 date stay far from ``datetime.max``;
  ClickHouse's ``DateTime64`` holds 1900-2299. A day ahead of receipt is what a client in
  another timezone with a wrong offset can honestly produce; further is a broken clock.
- **Integers**: signed 64-bit (what JSON libraries, the row encoder and ClickHouse ``Int64``
  hold) unless the field has its own tighter range.
- **Depth**: a free-form JSON value (``extra``, ``custom`` data) is at most ``MAX_JSON_DEPTH``
  levels deep, so a whole event is at most ``MAX_EVENT_DEPTH``: far below the limits measured
  in the libraries on the way (pydantic's JSON parser refuses 202 levels, orjson writes at
  most 254 and reads at most 1024), with room for the envelopes the worker wraps it in.
- **Size**: an event as written to Kafka is at most ``MAX_EVENT_BYTES``, a quarter of
  Kafka's default 1 MiB message limit, leaving room for the worker's and the DLQ's wrapping.
  The collector checks it where it encodes the event; later stages take whatever Kafka
  carries. Strings and lists have their own caps in :mod:`schemas.events`.

:mod:`schemas.events` enforces these bounds with the types at the bottom of this module, so
the collector's validation and the worker's ``parse_event`` are one and the same check. The
collector also calls :func:`time_problem` on a client's times before it corrects them for
clock skew (so the correction can never overflow), and the sink calls it on the times it
writes, so a message that never went through the collector is refused with the same reason.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, Field

EARLIEST_EVENT_TIME = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_EVENT_TIME = datetime(2100, 1, 1, tzinfo=UTC)  # exclusive
MAX_AHEAD_OF_RECEIPT = timedelta(days=1)
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
MAX_JSON_DEPTH = 32
MAX_EVENT_DEPTH = MAX_JSON_DEPTH + 2  # a free-form value sits at most two levels in
MAX_EVENT_BYTES = 256 * 1024
PLAIN_SCALARS = frozenset({str, bool, type(None)})


def aware(value: datetime) -> datetime:
    """A time without an offset is UTC (as the collector reads client times)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def time_problem(value: datetime) -> str | None:
    """Why ``value`` cannot be an event's time, or None when it can."""
    if EARLIEST_EVENT_TIME <= aware(value) < LATEST_EVENT_TIME:
        return None
    return (
        f"{value.isoformat()} is outside [{EARLIEST_EVENT_TIME.date()}, "
        f"{LATEST_EVENT_TIME.date()}) UTC"
    )


def ahead_of_receipt_problem(occurred_at: datetime, received_at: datetime | None) -> str | None:
    """Why an event dated ``occurred_at`` cannot have been received at ``received_at``."""
    if received_at is None or aware(occurred_at) - aware(received_at) <= MAX_AHEAD_OF_RECEIPT:
        return None
    hours = MAX_AHEAD_OF_RECEIPT.total_seconds() / 3600
    return f"occurred_at is more than {hours:g} hours after received_at"


def json_problem(value: dict[str, Any] | list[Any], max_depth: int = MAX_JSON_DEPTH) -> str | None:
    """Why ``value`` is not a JSON value every stage can hold, or None when it is one.

    Iterative, so a hostile depth costs a loop, never Python's recursion limit, and it stops
    at the first level too deep. Exact type checks first: this runs on every parse of every
    event in every stage, and nearly every value is a plain string or number."""
    stack: list[tuple[dict[str, Any] | list[Any], int]] = [(value, 1)]
    while stack:
        node, level = stack.pop()
        if level > max_depth:
            return f"nested deeper than {max_depth} levels"
        if type(node) is dict:
            if not all(type(key) is str for key in node):
                return "object keys must be strings"
            children: Any = node.values()
        else:
            children = node
        for child in children:
            kind = type(child)
            if kind in PLAIN_SCALARS:
                continue
            if kind is int:
                if not INT64_MIN <= child <= INT64_MAX:
                    return "an integer is outside the signed 64-bit range"
            elif kind is float:
                if not math.isfinite(child):
                    return "a number is not finite"
            elif kind is dict or kind is list:
                stack.append((child, level + 1))
            else:
                return f"{kind.__name__} is not a JSON value"
    return None


def check_json(value: Any) -> Any:
    """``value`` if :func:`json_problem` finds nothing, else ValueError with the reason."""
    if not value:
        return value  # most events carry no free-form data
    problem = json_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def size_problem(encoded: bytes) -> str | None:
    """Why an event encoded as ``encoded`` is too large to pass through Kafka, or None."""
    if len(encoded) <= MAX_EVENT_BYTES:
        return None
    return f"event is {len(encoded)} bytes as JSON, more than {MAX_EVENT_BYTES}"


EventTime = Annotated[datetime, Field(ge=EARLIEST_EVENT_TIME, lt=LATEST_EVENT_TIME)]
"""A datetime in the valid event range (compared in UTC; one without an offset as UTC)."""
Int64 = Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
JsonObject = Annotated[dict[str, Any], AfterValidator(check_json)]
"""A free-form JSON object, the object itself counting as one level of depth."""
