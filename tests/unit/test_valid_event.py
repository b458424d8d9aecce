"""One definition of a valid event: whatever the collector accepts, every later stage takes.

Random and hostile events (extreme dates and clock skews, big integers, deep nesting, odd
types in any field, oversized values) go through the collector's own body parser and
validation. Each accepted event must then pass, without raising, every pure stage it meets
on its way: the worker's ``parse_event`` (on the Kafka bytes and inside the identity step's
message), the profile step (timers, ``apply_event``, ``after_event``, the stored form and
the published snapshot) and the sink's row for the events table. Each refused event must
have a reason of its own, and its DLQ record must be writable.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, TypeAdapter, ValidationError

from collector.batch import (
    MAX_REASON_CHARS,
    BatchResult,
    RequestFacts,
    dlq_record,
    read_body,
    validate_batch,
)
from schemas.events import (
    EVENT_MODELS,
    EVENT_TYPES,
    Context,
    Event,
    LineItem,
    dump_event,
    parse_event,
)
from schemas.limits import (
    EARLIEST_EVENT_TIME,
    INT64_MAX,
    INT64_MIN,
    LATEST_EVENT_TIME,
    MAX_EVENT_BYTES,
    MAX_EVENT_DEPTH,
    MAX_JSON_DEPTH,
)
from schemas.profile import Profile
from sinks.rows import DLQ_COLUMNS, EVENT_COLUMNS, EVENTS, dlq_row, encode, to_row
from stream_processors.figures import snapshot, stored
from stream_processors.identity import event_message
from stream_processors.journey_step import JourneyConfig, after_event, after_tick
from stream_processors.profile import apply_event, new_profile

RECEIVED = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
JOURNEY = JourneyConfig()
ITEM = {"product_id": "p1", "price": "9.90", "quantity": 2}
PROPERTIES: dict[str, dict[str, Any]] = {
    "page_view": {"category": "home"},
    "click": {"element": "a", "text": "buy"},
    "product_view": {"product_id": "p1", "price": "9.90", "category": "shoes"},
    "search": {"query": "red shoes", "results": 3},
    "cart_add": dict(ITEM),
    "cart_remove": {"product_id": "p1", "quantity": 1},
    "checkout_started": {"items": [dict(ITEM)], "value": "19.80", "currency": "EUR"},
    "order_placed": {"order_id": "o1", "items": [dict(ITEM)], "total": "19.80", "currency": "EUR"},
    "order_refunded": {"order_id": "o1", "amount": "5.00", "currency": "EUR"},
    "identify": {"traits": {"plan": "gold", "age": 41}},
    "review": {"product_id": "p1", "rating": 4, "text": "fine"},
    "feedback": {"score": 9, "topic": "delivery"},
    "experiment_exposure": {"experiment": "hero", "variant": "b"},
    "custom": {"name": "quiz", "data": {"answers": [1, 2]}},
}
assert set(PROPERTIES) == set(EVENT_TYPES)


def nested(depth: int, leaf: Any = 1) -> Any:
    """``leaf`` inside ``depth`` objects and lists, alternating, an object outermost."""
    value = leaf
    for level in range(depth):
        value = {"k": value} if (depth - level) % 2 else [value]
    return value


def iso(moment: datetime) -> str:
    return moment.isoformat()


# ---------------------------------------------------------------- strategies

offsets = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
edges = st.sampled_from(
    [
        datetime(1, 1, 1),
        datetime(1970, 1, 1),
        datetime(1999, 12, 31, 23, 59, 59),
        datetime(2000, 1, 1),
        datetime(2099, 12, 31, 23, 59, 59),
        datetime(2100, 1, 1),
        datetime(2110, 6, 1),
        datetime(9999, 12, 31, 23, 59, 59),
    ]
)
recent = st.integers(-30 * 86400, 2 * 86400).map(lambda s: RECEIVED + timedelta(seconds=s))
moments = st.one_of(
    st.builds(lambda d, tz: d.replace(tzinfo=tz), edges, offsets),
    st.datetimes(datetime(1, 1, 2), datetime(9999, 12, 30), timezones=offsets),
    recent,
)
huge_ints = st.one_of(
    st.sampled_from([INT64_MIN - 1, INT64_MIN, INT64_MAX, INT64_MAX + 1, 2**64, 2**64 - 1]),
    st.integers(-(2**80), 2**80),
    st.integers(-1000, 1000),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    huge_ints,
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.builds("x".__mul__, st.sampled_from([300, MAX_EVENT_BYTES + 10])),
)
deep = st.builds(
    nested, st.sampled_from([MAX_JSON_DEPTH - 1, MAX_JSON_DEPTH, MAX_JSON_DEPTH + 1, 201, 253, 600])
)
json_values = st.recursive(
    scalars | deep,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
free_form_values = st.one_of(deep, huge_ints, json_values)
hostile = st.one_of(
    free_form_values,
    moments.map(iso),
    st.sampled_from(list(EVENT_TYPES)),
    st.sampled_from(["", "null", "EUR", "1e400", "9.90", "-1", "2026-13-45T00:00:00Z"]),
)
times = st.one_of(recent.map(iso), recent.map(iso), moments.map(iso), hostile)
ENVELOPE_KEYS = (
    "event_id",
    "type",
    "anonymous_id",
    "customer_id",
    "session_id",
    "occurred_at",
    "sent_at",
    "schema_version",
    "context",
    "properties",
)


def fields_of(kind: str, free_form_only: bool) -> dict[str, list[str]]:
    """Where a hostile value can go in an event of ``kind``, and the keys each place has:
    anywhere, or only where the schema takes any JSON (where a hostile value is most often
    accepted, so these events test the later stages hardest)."""
    properties = EVENT_MODELS[kind].model_fields["properties"].annotation
    assert isinstance(properties, type)
    assert issubclass(properties, BaseModel)
    places = {"extra": ["note", "plan", "x"]}
    free = {"custom": "data", "identify": "traits"}
    if kind in free:
        places[free[kind]] = ["a", "b", ""]
    if free_form_only:
        return places
    places |= {
        "envelope": list(ENVELOPE_KEYS),
        "properties": list(properties.model_fields),
        "context": list(Context.model_fields),
    }
    if "items" in properties.model_fields:
        places["item"] = list(LineItem.model_fields)
    return places


FREE_FORM = frozenset({"extra", "data", "traits"})


@st.composite
def mutation(draw: st.DrawFn, places: dict[str, list[str]]) -> tuple[str, str, Any]:
    place = draw(st.sampled_from(sorted(places)))
    value = draw(free_form_values if place in FREE_FORM else hostile)
    return place, draw(st.sampled_from(places[place])), value


def object_at(parent: dict[str, Any], key: str) -> dict[str, Any]:
    """``parent[key]``, made an object if an earlier mutation made it something else."""
    if not isinstance(parent.get(key), dict):
        parent[key] = {}
    child: dict[str, Any] = parent[key]
    return child


def mutate(event: dict[str, Any], place: str, key: str, value: Any) -> None:
    """Put ``value`` at ``key`` of one part of ``event``."""
    if place in ("envelope", "extra"):
        event[key] = value
    elif place == "context":
        object_at(event, "context")[key] = value
    elif place == "item":
        object_at(event, "properties")["items"] = [dict(ITEM) | {key: value}]
    else:
        props = object_at(event, "properties")
        (props if place == "properties" else object_at(props, place))[key] = value


@st.composite
def raw_events(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(EVENT_TYPES))
    event: dict[str, Any] = {
        "event_id": str(draw(st.uuids())),
        "type": kind,
        "anonymous_id": draw(st.sampled_from(["browser-1", "browser-2"])),
        "occurred_at": draw(times),
        "properties": json.loads(json.dumps(PROPERTIES[kind])),
    }
    if kind == "identify":
        event["customer_id"] = "c-1"
    if draw(st.booleans()):
        event["sent_at"] = draw(times)
    places = fields_of(kind, free_form_only=draw(st.booleans()))
    for place, key, value in draw(st.lists(mutation(places), max_size=3)):
        mutate(event, place, key, value)
    return event


def wire(body: dict[str, Any]) -> bytes:
    """The body as a client would send it: any JSON, integers of any size included."""
    return json.dumps(body, allow_nan=False).encode()


# ---------------------------------------------------------------- every stage an event meets


def profile_step(profile: Profile, event: Event) -> Profile:
    """The worker's pure step for one event: due timers, the event, the journey, the forms it
    is stored and published in."""
    profile, _, _ = after_tick(profile, event.occurred_at, JOURNEY)
    profile = apply_event(profile, event)
    profile, _, _ = after_event(
        profile, event.type, event.occurred_at, str(event.event_id), JOURNEY
    )
    assert Profile.model_validate(orjson.loads(orjson.dumps(stored(profile)))) == profile
    snapshot(profile, event.occurred_at)
    return profile


def downstream(result: BatchResult) -> None:
    """Every accepted event through every later stage; none may raise."""
    profile = new_profile("shop", "browser-1")
    for accepted, encoded in zip(result.accepted, result.encoded, strict=True):
        assert parse_event(encoded) == accepted
        message = orjson.loads(event_message(accepted, encoded, "browser-1", (0, 7)))
        assert parse_event(message["event"]) == accepted
        row = to_row(EVENTS, encoded)
        assert len(row) == len(EVENT_COLUMNS)
        orjson.loads(encode([row]))
        profile = profile_step(profile, parse_event(encoded))


def refusals_are_explained(raw: list[Any], result: BatchResult) -> None:
    refused = [r.index for r in result.rejected]
    assert len(result.accepted) + len(refused) == len(raw)
    assert len(set(refused)) == len(refused)
    for rejection in result.rejected:
        assert rejection.reason.strip()
        assert len(rejection.reason) <= MAX_REASON_CHARS
        record = orjson.loads(dlq_record(rejection, "shop", RECEIVED))
        assert len(dlq_row(record, "t.events.dlq", 0, 1)) == len(DLQ_COLUMNS)


# ---------------------------------------------------------------- the guarantees


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(events=st.lists(raw_events(), min_size=1, max_size=6), sent_at=st.none() | times)
def test_what_the_collector_accepts_every_later_stage_takes(
    events: list[dict[str, Any]], sent_at: Any
) -> None:
    body = read_body(wire({"batch": events} | ({"sent_at": sent_at} if sent_at else {})))
    facts = RequestFacts(site_id="shop", verified=True, received_at=RECEIVED)
    result = validate_batch(body["batch"], facts)
    event(f"{len(result.accepted)} of {len(events)} accepted")
    refusals_are_explained(body["batch"], result)
    downstream(result)


def accepted_or_reason(raw: dict[str, Any], sent_at: datetime | None = None) -> str | None:
    """None when ``raw`` is accepted and passes every later stage, else its reason."""
    facts = RequestFacts(site_id="shop", verified=True, received_at=RECEIVED, sent_at=sent_at)
    result = validate_batch(read_body(wire({"batch": [raw]}))["batch"], facts)
    refusals_are_explained([raw], result)
    downstream(result)
    return result.rejected[0].reason if result.rejected else None


def product_view(**fields: Any) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "type": "product_view",
        "anonymous_id": "browser-1",
        "occurred_at": iso(RECEIVED - timedelta(minutes=1)),
        "properties": {"product_id": "p1", "price": "9.90"},
    } | fields


def custom(data: Any) -> dict[str, Any]:
    return product_view(type="custom", properties={"name": "quiz", "data": data})


def search(results: Any) -> dict[str, Any]:
    return product_view(type="search", properties={"query": "q", "results": results})


def identify(traits: dict[str, Any]) -> dict[str, Any]:
    return product_view(type="identify", customer_id="c-1", properties={"traits": traits})


def at(moment: datetime | str, **fields: Any) -> dict[str, Any]:
    return product_view(occurred_at=moment if isinstance(moment, str) else iso(moment), **fields)


DAY = timedelta(days=1)
# (what, the raw event, the request's sent_at, None if accepted else a word of its reason)
BOUNDS: list[tuple[str, dict[str, Any], datetime | None, str | None]] = [
    ("the first valid instant", at(EARLIEST_EVENT_TIME), None, None),
    ("a day ahead of receipt", at(RECEIVED + DAY), None, None),
    ("a second more", at(RECEIVED + DAY + timedelta(seconds=1)), None, "after received_at"),
    ("just before 2000 in UTC", at("2000-01-01T04:59:59+05:00"), None, "2000-01-01"),
    ("corrected to before 2000", at("2000-01-01T00:00:01Z"), RECEIVED + 2 * DAY, "2000-01-01"),
    ("dated 2110", at("2110-01-01T00:00:00Z"), None, "2100-01-01"),
    ("year 1 with an offset", at("0001-01-01T00:00:00+05:00"), None, "2000-01-01"),
    ("9999, sent_at a day back", at("9999-12-31T23:59:59Z"), RECEIVED - DAY, "occurred_at"),
    ("year 1, sent_at a day ahead", at("0001-01-01T00:00:00Z"), RECEIVED + DAY, "occurred_at"),
    ("a year-9999 sent_at is ignored", product_view(sent_at="9999-12-31T23:59:59Z"), None, None),
    ("free-form data at the depth limit", custom(nested(MAX_JSON_DEPTH)), None, None),
    ("one level deeper", custom(nested(MAX_JSON_DEPTH + 1)), None, f"deeper than {MAX_JSON_DEPTH}"),
    ("an unknown field 250 levels deep", product_view(note=nested(250)), None, "extra"),
    ("an unknown field 600 levels deep", product_view(note=nested(600)), None, "extra"),
    ("properties 600 levels deep", product_view(properties=nested(600)), None, "properties"),
    ("the signed 64-bit extremes", custom({"n": INT64_MAX, "m": INT64_MIN}), None, None),
    ("one more than the largest", custom({"n": INT64_MAX + 1}), None, "64-bit"),
    ("a 30-digit integer, read as a float", custom({"n": 10**30}), None, None),
    ("a 30-digit result count", search(10**30), None, "properties.results"),
    ("a trait above 64 bits, kept as a float", identify({"n": 2**64 - 1}), None, None),
    (
        "schema_version above 64 bits",
        product_view(schema_version=2**64 - 1),
        None,
        "schema_version",
    ),
    ("type as a list", product_view(type=["page_view"]), None, "not a string"),
    ("type as an object", product_view(type={"a": 1}), None, "not a string"),
    ("too large for Kafka", product_view(note="x" * MAX_EVENT_BYTES), None, "bytes as JSON"),
]


@pytest.mark.parametrize(
    ("raw", "sent_at", "refused_for"), [b[1:] for b in BOUNDS], ids=[b[0] for b in BOUNDS]
)
def test_each_bound_is_where_the_definition_puts_it(
    raw: dict[str, Any], sent_at: datetime | None, refused_for: str | None
) -> None:
    reason = accepted_or_reason(raw, sent_at)
    if refused_for is None:
        assert reason is None
    else:
        assert reason is not None, "accepted"
        assert refused_for in reason


def depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    return 0


def test_the_deepest_valid_event_is_far_from_every_parser_limit() -> None:
    """The worker wraps an event once in its identity message and once more in a DLQ
    record; pydantic's JSON parser (the worker's) and orjson (the sink's, the DLQ's) must
    take the deepest valid event with room to spare."""
    facts = RequestFacts(site_id="shop", verified=False, received_at=RECEIVED)
    (encoded,) = validate_batch([custom(nested(MAX_JSON_DEPTH))], facts).encoded
    assert depth(orjson.loads(encoded)) == MAX_EVENT_DEPTH
    room = json.dumps(nested(MAX_EVENT_DEPTH + 10))
    TypeAdapter(Any).validate_json(room)
    orjson.dumps(orjson.loads(room))


def test_both_ends_of_the_range_pass_every_stage() -> None:
    """An event that never went through a collector has no ``received_at``: only the range
    bounds its date. Its first and last valid instants must pass the worker and the sink
    (interest decay, cart timers, intervals); the first instant past it is refused."""
    last = LATEST_EVENT_TIME - timedelta(milliseconds=1)
    events = []
    for n, kind in enumerate(["product_view", "cart_add", "order_placed", "cart_add"]):
        moment = EARLIEST_EVENT_TIME if n % 2 else last
        raw = product_view(type=kind, occurred_at=iso(moment), properties=PROPERTIES[kind])
        events.append(parse_event(raw | {"site_id": "shop"}))
    downstream(BatchResult(accepted=events, encoded=[dump_event(e) for e in events]))
    late = product_view(occurred_at=iso(LATEST_EVENT_TIME), site_id="shop")
    with pytest.raises(ValidationError, match="less than 2100-01-01"):
        parse_event(late)
