"""Turning a request body into accepted events and per-event rejections. No I/O here."""

from __future__ import annotations

import reprlib
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from pydantic import ValidationError

from collector.consent import AnalyticsRule, kept
from schemas.events import (
    EVENT_MODELS,
    MONEY_EVENT_TYPES,
    Envelope,
    Event,
    Identify,
    dump_event,
    parse_event,
)
from schemas.limits import size_problem, time_problem
from schemas.personal import Protection, protect

ENVELOPE_FIELDS = frozenset(Envelope.model_fields) | {"type", "properties"}
SERVER_FIELDS = frozenset({"site_id", "received_at", "verified", "extra"})
MAX_REASON_CHARS = 400
MAX_ECHOED_ID_CHARS = 64


class BodyError(ValueError):
    """The request body as a whole cannot be read; the whole request is refused (400)."""


@dataclass(frozen=True)
class Rejection:
    index: int
    reason: str
    raw: Any
    event_id: str | None = None

    def as_response(self) -> dict[str, Any]:
        return {"index": self.index, "event_id": self.event_id, "reason": self.reason}


@dataclass
class BatchResult:
    """The accepted events, each with its JSON as written to Kafka (``encoded``, same order:
    encoding is part of validation, since an event too large for Kafka is refused)."""

    accepted: list[Event] = field(default_factory=list)
    encoded: list[bytes] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    withheld: int = 0
    """Valid events not stored at all: an ``identify`` without analytics consent."""


@dataclass(frozen=True)
class RequestFacts:
    """What the server knows about the request, stamped on every event."""

    site_id: str
    verified: bool
    received_at: datetime
    sent_at: datetime | None = None
    max_clock_skew: timedelta = timedelta(days=7)
    max_extra_fields: int = 32
    analytics_consent: AnalyticsRule = "assumed"
    anonymize_key: str = field(default="", repr=False)
    personal_traits: Protection = "plain"
    personal_key: bytes | None = field(default=None, repr=False)


def read_body(body: bytes) -> dict[str, Any]:
    """Parse a batch body: a JSON object with a ``batch`` list (or one bare event)."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BodyError(f"body is not valid JSON: {exc}") from None
    if isinstance(data, list):
        return {"batch": data}
    if not isinstance(data, dict):
        raise BodyError("body must be a JSON object with a 'batch' list")
    if "batch" not in data:
        return {"batch": [data]} | {k: data[k] for k in ("write_key", "sent_at") if k in data}
    if not isinstance(data["batch"], list):
        raise BodyError("'batch' must be a list of events")
    return data


def parse_client_time(value: Any) -> datetime | None:
    """An ISO 8601 time from a client (UTC when it has no offset), or None."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def client_sent_at(value: Any) -> datetime | None:
    """A client's ``sent_at`` fit to correct its clock with: None when it is unreadable or
    outside the valid event range (such a clock tells nothing about the skew, and a year-1
    or year-9999 ``sent_at`` would overflow the correction)."""
    parsed = parse_client_time(value)
    return parsed if parsed is not None and time_problem(parsed) is None else None


def skew_correction(facts: RequestFacts, sent_at: datetime | None) -> timedelta:
    """How far the client clock is behind the server's (PostHog's sent_at rule)."""
    if sent_at is None:
        return timedelta(0)
    skew = facts.received_at - sent_at
    return skew if abs(skew) <= facts.max_clock_skew else timedelta(0)


def prepare(raw: dict[str, Any], facts: RequestFacts, context: dict[str, Any]) -> dict[str, Any]:
    """Stamp server fields, move unknown fields to ``extra`` and correct the clock.

    The client's ``occurred_at`` is refused before the correction when it lies outside the
    valid range (``schemas.limits``), and a ``sent_at`` outside it is ignored: with both
    inside, the correction is under a century and can never overflow a datetime. The
    corrected time is checked again by the model."""
    known = {k: v for k, v in raw.items() if k in ENVELOPE_FIELDS and k not in SERVER_FIELDS}
    unknown = {k: v for k, v in raw.items() if k not in ENVELOPE_FIELDS}
    if len(unknown) > facts.max_extra_fields:
        raise ValueError(f"more than {facts.max_extra_fields} unknown fields")
    sent_at = client_sent_at(raw.get("sent_at")) or facts.sent_at
    occurred = parse_client_time(raw.get("occurred_at"))
    if occurred is not None:
        problem = time_problem(occurred)
        if problem is not None:
            raise ValueError(f"occurred_at: {problem}")
        known["occurred_at"] = (occurred + skew_correction(facts, sent_at)).isoformat()
    elif "occurred_at" not in raw:
        known["occurred_at"] = facts.received_at.isoformat()
    client_context = raw.get("context")
    if isinstance(client_context, dict):
        known["context"] = {**client_context, **context}
    elif client_context is None:
        known["context"] = context
    verified = facts.verified and raw.get("type") in MONEY_EVENT_TYPES
    return known | {
        "site_id": facts.site_id,
        "received_at": facts.received_at.isoformat(),
        "sent_at": sent_at.isoformat() if sent_at else None,
        "verified": verified,
        "extra": unknown,
    }


def bounded(text: str, limit: int = MAX_REASON_CHARS) -> str:
    """A reason never longer than ``limit``: field names and values come from the client."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def explain(error: ValidationError) -> str:
    """A short reason: the first few problems, each with its field path."""
    parts = []
    for problem in error.errors()[:3]:
        location = ".".join(bounded(str(p), MAX_ECHOED_ID_CHARS) for p in problem["loc"])
        parts.append(f"{location}: {problem['msg']}" if location else problem["msg"])
    return bounded("; ".join(parts))


def type_problem(kind: Any) -> str | None:
    """Why ``kind`` is not an event type (a list or an object there is refused by name,
    never looked up: it cannot be a dict key)."""
    if isinstance(kind, str):
        return None if kind in EVENT_MODELS else bounded(f"unknown event type {kind!r}")
    if kind is None:
        return "unknown event type None"
    return f"unknown event type: a JSON {type(kind).__name__}, not a string"


def with_personal_traits_protected(event: Event, facts: RequestFacts) -> Event:
    """An ``identify`` with its personal traits hashed or sealed, as the site asks."""
    if not isinstance(event, Identify) or facts.personal_traits == "plain":
        return event
    traits = protect(
        event.properties.traits, facts.personal_traits, facts.personal_key, facts.site_id
    )
    properties = event.properties.model_copy(update={"traits": traits})
    return event.model_copy(update={"properties": properties})


def validate_batch(
    raw_events: list[Any], facts: RequestFacts, context: dict[str, Any] | None = None
) -> BatchResult:
    """Validate every event on its own: one bad event never sinks the batch."""
    result = BatchResult()
    for index, raw in enumerate(raw_events):
        if not isinstance(raw, dict):
            result.rejected.append(Rejection(index, "event must be a JSON object", raw))
            continue
        event_id = raw.get("event_id")
        event_id = event_id if isinstance(event_id, str) else None
        event_id = event_id[:MAX_ECHOED_ID_CHARS] if event_id else event_id
        reason = type_problem(raw.get("type"))
        if reason is not None:
            result.rejected.append(Rejection(index, reason, raw, event_id))
            continue
        try:
            parsed = parse_event(prepare(raw, facts, context or {}))
        except ValidationError as exc:
            result.rejected.append(Rejection(index, explain(exc), raw, event_id))
            continue
        except ValueError as exc:
            result.rejected.append(Rejection(index, bounded(str(exc)), raw, event_id))
            continue
        event = kept(parsed, facts.analytics_consent, facts.anonymize_key, facts.received_at.date())
        if event is None:
            result.withheld += 1
            continue
        event = with_personal_traits_protected(event, facts)
        encoded = dump_event(event)
        reason = size_problem(encoded)
        if reason is not None:
            result.rejected.append(Rejection(index, reason, raw, event_id))
            continue
        result.accepted.append(event)
        result.encoded.append(encoded)
    return result


class RecentIds:
    """A bounded memory of recently accepted event ids (drops quick duplicates)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, event_id: object) -> bool:
        return event_id in self._ids

    def add(self, event_id: str) -> None:
        self._ids[event_id] = None
        self._ids.move_to_end(event_id)
        while len(self._ids) > self.capacity:
            self._ids.popitem(last=False)


def kafka_key(event: Envelope) -> bytes:
    """Events are keyed by site and anonymous id, so a browser's events stay in order."""
    return f"{event.site_id}:{event.anonymous_id}".encode()


def payload_preview(raw: Any) -> str:
    """The beginning of a payload orjson cannot write (nested deeper than it goes), as text;
    ``reprlib`` stops at a fixed depth, so this never recurses as deep as the payload."""
    preview = reprlib.Repr()
    preview.maxlevel = 8
    preview.maxstring = preview.maxother = 200
    return preview.repr(raw)


def dlq_record(rejection: Rejection, site_id: str, received_at: datetime) -> bytes:
    record = {
        "site_id": site_id,
        "index": rejection.index,
        "event_id": rejection.event_id,
        "reason": rejection.reason,
        "received_at": received_at.isoformat(),
        "payload": rejection.raw,
    }
    try:
        return orjson.dumps(record, default=str)
    except orjson.JSONEncodeError:
        return orjson.dumps(record | {"payload": payload_preview(rejection.raw)})
