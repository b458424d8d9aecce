"""Kafka messages to ClickHouse rows: one pure function per table."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson

from schemas.limits import time_problem

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class BadMessage(ValueError):
    """A message that can never become a row; it goes to the DLQ table with the reason."""


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[str, ...]
    to_row: Callable[[dict[str, Any]], list[Any]]


def when(value: Any) -> datetime:
    if not value:
        return EPOCH
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def event_time(value: Any) -> datetime:
    """An event's time, refused (ValueError) outside the range of ``schemas.limits``: the
    collector and the worker hold the same bound, so only a message that never went through
    them fails here, with the same reason, instead of being clamped by ``DateTime64``."""
    parsed = when(value)
    problem = time_problem(parsed)
    if problem is not None:
        raise ValueError(problem)
    return parsed


def uuid_text(value: Any) -> str:
    """A UUID in its 36-character text form, lower-cased (ClickHouse checks the digits: a bad
    one refuses the batch, and the row-by-row retry sends that row to the DLQ)."""
    if not isinstance(value, str) or len(value) != 36:
        raise ValueError(f"not a UUID: {value!r}")
    return value.lower()


PLAIN_AMOUNT = re.compile(r"-?[0-9]{1,18}(\.[0-9]{1,18})?")


def money(value: Any) -> str:
    """An exact amount as plain digits: sent on as text, which ClickHouse reads exactly."""
    if value is None or value == "":
        return "0"
    if isinstance(value, str) and PLAIN_AMOUNT.fullmatch(value):
        return value  # the common case, already plain
    return format(Decimal(str(value)), "f")


EVENT_COLUMNS = (
    "event_id",
    "site_id",
    "type",
    "anonymous_id",
    "customer_id",
    "session_id",
    "occurred_at",
    "received_at",
    "url",
    "path",
    "referrer",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "coupon",
    "device_type",
    "browser",
    "os",
    "country",
    "verified",
    "product_id",
    "category",
    "price",
    "quantity",
    "order_id",
    "order_total",
    "currency",
    "properties",
    "context",
)


def event_row(event: dict[str, Any]) -> list[Any]:
    context = event.get("context") or {}
    utm = context.get("utm") or {}
    device = context.get("device") or {}
    props = event.get("properties") or {}
    return [
        uuid_text(event["event_id"]),
        event["site_id"],
        event["type"],
        event["anonymous_id"],
        event.get("customer_id") or "",
        event.get("session_id") or "",
        event_time(event["occurred_at"]),
        event_time(event["received_at"]) if event.get("received_at") else EPOCH,
        context.get("url") or "",
        context.get("path") or "",
        context.get("referrer") or "",
        utm.get("source") or "",
        utm.get("medium") or "",
        utm.get("campaign") or "",
        props.get("coupon") or context.get("coupon") or "",
        device.get("type") or "",
        device.get("browser") or "",
        device.get("os") or "",
        context.get("country") or "",
        bool(event.get("verified")),
        props.get("product_id") or "",
        props.get("category") or "",
        money(props.get("price")),
        int(props.get("quantity") or 0),
        props.get("order_id") or "",
        money(props.get("total") if event["type"] == "order_placed" else props.get("amount")),
        props.get("currency") or "",
        orjson.dumps(props).decode(),
        orjson.dumps(context).decode(),
    ]


PROFILE_COLUMNS = (
    "site_id",
    "profile_id",
    "customer_id",
    "merged_into",
    "version",
    "first_seen",
    "last_seen",
    "event_count",
    "page_views",
    "product_views",
    "cart_adds",
    "session_count",
    "orders",
    "revenue",
    "currency",
    "stage",
    "stage_since",
    "data",
)


def profile_row(profile: dict[str, Any]) -> list[Any]:
    counts = profile.get("counts") or {}
    return [
        profile["site_id"],
        profile["profile_id"],
        profile.get("customer_id") or "",
        profile.get("merged_into") or "",
        int(profile["version"]),
        when(profile.get("first_seen")),
        when(profile.get("last_seen")),
        int(profile.get("event_count", 0)),
        int(counts.get("page_view", 0)),
        int(counts.get("product_view", 0)),
        int(counts.get("cart_add", 0)),
        int(profile.get("session_count", 0)),
        int(profile.get("orders", 0)),
        money(profile.get("revenue")),
        profile.get("currency") or "",
        profile.get("stage") or "",
        when(profile.get("stage_since")),
        orjson.dumps(profile).decode(),
    ]


TRANSITION_COLUMNS = (
    "site_id",
    "profile_id",
    "from_stage",
    "to_stage",
    "cause",
    "event_id",
    "at",
)


def transition_row(transition: dict[str, Any]) -> list[Any]:
    return [
        transition["site_id"],
        transition["profile_id"],
        transition["from_stage"],
        transition["to_stage"],
        transition.get("cause") or "",
        transition.get("event_id") or "",
        when(transition["at"]),
    ]


SEGMENT_COLUMNS = ("site_id", "profile_id", "segment", "change", "cause", "event_id", "at")


def segment_row(change: dict[str, Any]) -> list[Any]:
    return [
        change["site_id"],
        change["profile_id"],
        change["segment"],
        change["change"],
        change.get("cause") or "",
        change.get("event_id") or "",
        when(change["at"]),
    ]


ATTEMPT_COLUMNS = (
    "delivery_id",
    "subscription_id",
    "site_id",
    "event_kind",
    "url",
    "attempt",
    "status",
    "outcome",
    "latency_ms",
    "error",
    "at",
)


def attempt_row(attempt: dict[str, Any]) -> list[Any]:
    return [
        attempt["delivery_id"],
        attempt["subscription_id"],
        attempt["site_id"],
        attempt["event_kind"],
        attempt["url"],
        int(attempt["attempt"]),
        int(attempt.get("status") or 0),
        attempt["outcome"],
        float(attempt.get("latency_ms") or 0),
        attempt.get("error") or "",
        when(attempt["at"]),
    ]


DLQ_COLUMNS = (
    "site_id",
    "event_id",
    "reason",
    "stage",
    "payload",
    "received_at",
    "topic",
    "partition",
    "offset",
)


def dlq_row(record: dict[str, Any], topic: str, partition: int, offset: int) -> list[Any]:
    payload = record.get("payload")
    return [
        record.get("site_id") or "",
        record.get("event_id") or "",
        str(record.get("reason") or ""),
        record.get("stage") or "collector",
        payload if isinstance(payload, str) else orjson.dumps(payload).decode(),
        when(record.get("received_at")) if record.get("received_at") else datetime.now(UTC),
        topic,
        partition,
        offset,
    ]


# How rows travel to ClickHouse: one JSON array per column. The engine parses it in C++, which is
# cheaper than building Native blocks in Python, and a failed parse stores nothing of the batch.
AUDIT_COLUMNS = ("at", "actor", "action", "site_id", "target", "detail")


def audit_row(record: dict[str, Any]) -> list[Any]:
    return [
        when(record["at"]),
        str(record["actor"]),
        str(record["action"]),
        str(record.get("site_id") or ""),
        str(record.get("target") or ""),
        str(record.get("detail") or ""),
    ]


INSERT_FORMAT = "JSONCompactColumns"


def encode(rows: list[list[Any]]) -> bytes:
    """Rows of one table as an ``INSERT_FORMAT`` body, columns in the table's column order.

    The row functions give only what JSON carries (amounts as text); anything else is a
    TypeError naming its type."""
    return orjson.dumps(list(zip(*rows, strict=True)))


def decode(value: bytes | None) -> dict[str, Any]:
    """JSON object from a message value, or BadMessage with the reason."""
    if value is None:
        raise BadMessage("empty message")
    try:
        data = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise BadMessage(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadMessage("not a JSON object")
    return data


def to_row(table: Table, value: bytes | None) -> list[Any]:
    """One message as a row of ``table``; raises BadMessage when it can never be one."""
    data = decode(value)
    try:
        return table.to_row(data)
    except (KeyError, ValueError, TypeError, ArithmeticError) as exc:
        raise BadMessage(f"{table.name}: {type(exc).__name__}: {exc}") from None


EventKey = tuple[str, str, str]
"""What makes an event row one event: (site_id, anonymous_id, event_id), the tail of the events
tables' sorting key, so the sink's look-up of stored keys reads only the granules they sit in."""

SITE, ANONYMOUS, EVENT_ID = map(EVENT_COLUMNS.index, ("site_id", "anonymous_id", "event_id"))


def event_key(row: list[Any]) -> EventKey:
    """The key of an event row (``event_row`` gives the id in lower case, as ClickHouse's
    ``toString`` does)."""
    return (row[SITE], row[ANONYMOUS], row[EVENT_ID])


def first_of_each(keys: list[EventKey], stored: set[EventKey]) -> list[int]:
    """Pure. The indices of the keys neither in ``stored`` nor earlier in ``keys``: the same
    event at two offsets (a client's retry after a lost answer, a second collector) is one."""
    seen = set(stored)
    fresh = []
    for at, key in enumerate(keys):
        if key not in seen:
            seen.add(key)
            fresh.append(at)
    return fresh


EVENTS = Table("events", EVENT_COLUMNS, event_row)
OVERFLOW_EVENTS = Table("overflow_events", EVENT_COLUMNS, event_row)
PROFILES = Table("profiles", PROFILE_COLUMNS, profile_row)
TRANSITIONS = Table("journey_transitions", TRANSITION_COLUMNS, transition_row)
SEGMENT_CHANGES = Table("segment_changes", SEGMENT_COLUMNS, segment_row)
WEBHOOK_ATTEMPTS = Table("webhook_deliveries", ATTEMPT_COLUMNS, attempt_row)
AUDIT = Table("audit_log", AUDIT_COLUMNS, audit_row)
