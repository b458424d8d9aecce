"""The outbox: a replayed message finds the records it led to, for a bounded time."""

from __future__ import annotations

import uuid

import orjson

from stream_processors.identity import absorb_message
from stream_processors.messages import Message, parse_message
from stream_processors.outbox import (
    OUTBOX_KEPT,
    OUTBOX_WINDOW_S,
    message_id,
    recorded,
    to_resend,
)
from stream_processors.profile import new_profile

T0 = 1_800_000_000.0
TRANSITION = ("journey", "demo:c1", '{"to_stage":"cart"}')
CHANGE = ("segments", "demo:c1", '{"segment":"high_intent"}')


def test_a_message_is_known_by_the_same_id_each_time_it_is_read() -> None:
    def message(**body: object) -> Message:
        return parse_message(orjson.dumps({"site_id": "demo", "profile_id": "c1"} | body))

    event_id = str(uuid.uuid4())
    event = {"event_id": event_id, "type": "page_view", "site_id": "demo"}
    event |= {"anonymous_id": "b", "occurred_at": "2026-11-28T12:00:00+00:00"}
    read = message(kind="event", event=event)
    assert message_id(read) == message_id(message(kind="event", event=event, source=[0, 9]))
    other = message(kind="event", event=event | {"event_id": str(uuid.uuid4())})
    assert message_id(read) != message_id(other)
    merge = message(kind="merge", into="c2", merge_id=f"merge:{event_id}")
    absorb = message(
        kind="absorb", profile={"site_id": "demo", "profile_id": "a"}, merge_id=f"merge:{event_id}"
    )
    assert len({message_id(read), message_id(merge), message_id(absorb)}) == 3
    tick = message(kind="tick", now="2026-11-28T12:00:00+00:00")
    assert message_id(tick) == "tick:2026-11-28T12:00:00+00:00"


def test_the_records_of_a_message_are_found_again_by_its_id() -> None:
    outbox = recorded([], "event:a", [TRANSITION, CHANGE], T0)
    outbox = recorded(outbox, "event:b", [CHANGE], T0 + 1)
    assert to_resend(outbox, "event:a") == [TRANSITION, CHANGE]
    assert to_resend(outbox, "event:b") == [CHANGE]
    assert to_resend(outbox, "event:c") is None


def test_a_message_without_records_leaves_the_outbox_as_it_is() -> None:
    outbox = recorded([], "event:a", [TRANSITION], T0)
    assert recorded(outbox, "event:b", [], T0 + 1) is outbox


def test_the_outbox_is_bounded_in_count_and_time() -> None:
    outbox = []
    for n in range(OUTBOX_KEPT + 5):
        outbox = recorded(outbox, f"event:{n}", [TRANSITION], T0 + n)
    assert len(outbox) == OUTBOX_KEPT
    assert to_resend(outbox, "event:0") is None
    assert to_resend(outbox, f"event:{OUTBOX_KEPT + 4}") == [TRANSITION]
    later = recorded(outbox, "event:late", [], T0 + OUTBOX_WINDOW_S + 10)
    assert [entry.id for entry in later] == [f"event:{n}" for n in range(10, OUTBOX_KEPT + 5)]
    assert recorded(later, "event:last", [], T0 + 10 * OUTBOX_WINDOW_S) == []


def test_the_outbox_is_not_handed_over_in_a_merge() -> None:
    profile = new_profile("demo", "anon-b1").model_copy(
        update={"outbox": recorded([], "event:a", [TRANSITION], T0)}
    )
    assert b"outbox" not in absorb_message("demo", "c1", profile, "merge:x")
