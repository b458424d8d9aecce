"""The worker's pure step over typed messages, and what it rejects, without Kafka."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import orjson
import pytest

from schemas.profile import Profile
from stream_processors.batch import PendingProfiles
from stream_processors.identity import absorb_message
from stream_processors.messages import (
    AbsorbMessage,
    EventMessage,
    InvalidMessage,
    MergeMessage,
    Message,
    TickMessage,
    parse_message,
)
from stream_processors.poison import DlqLimit, DlqLimitExceeded, dead_letter, is_poison
from stream_processors.profile import new_profile
from stream_processors.profile_step import Applied, Replayed, StepConfig, step
from tests.processors.events import at, make

CONFIG = StepConfig()
NOW = datetime(2026, 11, 30, tzinfo=UTC)


def event_message(kind: str, when: datetime, offset: int, **fields: object) -> EventMessage:
    event = make(kind, when, **fields)
    return EventMessage(
        kind="event", site_id="shop", profile_id="c1", event=event, source=(0, offset)
    )


def run(profile: Profile, message: Message) -> Profile:
    outcome = step(profile, message, CONFIG, NOW, 1_800_000_000.0)
    assert isinstance(outcome, Applied)
    return outcome.after


def test_an_event_moves_the_stage_and_keeps_its_records_for_a_replay() -> None:
    message = event_message("cart_add", at(0), 5, properties={"product_id": "p1", "price": "9"})
    outcome = step(new_profile("shop", "c1"), message, CONFIG, NOW, 1_800_000_000.0)
    assert isinstance(outcome, Applied)
    assert outcome.changed(new_profile("shop", "c1"))
    assert outcome.records[0][0] == "journey"  # then the segments entered
    assert outcome.after.stage == "cart"
    again = step(outcome.after, message, CONFIG, NOW, 1_800_000_001.0)
    assert again == Replayed(outcome.records)  # read again after a crash: sent again


def test_the_same_event_at_a_new_offset_is_a_replay_with_nothing_new() -> None:
    first = event_message("page_view", at(0), 5)
    profile = run(new_profile("shop", "c1"), first)
    retried = first.model_copy(update={"source": (1, 900)})
    assert step(profile, retried, CONFIG, NOW, 0.0) == Replayed([])


def test_a_merge_hands_the_profile_over_once_and_the_customer_absorbs_it_once() -> None:
    anonymous = run(new_profile("shop", "anon-b"), event_message("page_view", at(0), 1))
    merge = MergeMessage(
        kind="merge", site_id="shop", profile_id="anon-b", into="c1", merge_id="merge:x"
    )
    outcome = step(anonymous, merge, CONFIG, NOW, 0.0)
    assert isinstance(outcome, Applied)
    assert outcome.urgent
    assert outcome.after.merged_into == "c1"
    [handover] = [r for r in outcome.records if r[0] == "identified"]
    absorb = parse_message(handover[2].encode())
    assert isinstance(absorb, AbsorbMessage)
    customer = run(new_profile("shop", "c1"), absorb)
    assert customer.event_count == 1
    assert isinstance(step(customer, absorb, CONFIG, NOW, 0.0), Replayed)
    assert step(outcome.after, merge, CONFIG, NOW, 0.0) == Replayed(outcome.records)


def test_a_tick_fires_the_timers_due_by_its_time() -> None:
    cart = event_message("cart_add", at(0), 1, properties={"product_id": "p1", "price": "9"})
    profile = run(new_profile("shop", "c1"), cart)
    tick = TickMessage(kind="tick", site_id="shop", profile_id="c1", now=at(0, 2))
    after = run(profile, tick)
    assert after.stage == "cart_abandoned"
    assert after.version == profile.version + 1


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[]",
        b'{"kind": "event", "site_id": "shop", "profile_id": "c1"}',
        b'{"kind": "launch", "site_id": "shop", "profile_id": "c1"}',
        b'{"kind": "tick", "site_id": "shop", "profile_id": "c1", "now": "yesterday"}',
        b'{"kind": "merge", "site_id": "", "profile_id": "c1", "into": "c2", "merge_id": "m"}',
    ],
)
def test_a_message_that_does_not_parse_is_invalid_with_a_reason(raw: bytes) -> None:
    with pytest.raises(InvalidMessage) as caught:
        parse_message(raw)
    assert str(caught.value)
    assert is_poison(caught.value)


def test_the_handover_message_is_one_the_step_reads() -> None:
    raw = absorb_message("shop", "c1", new_profile("shop", "anon-b"), "merge:y")
    assert isinstance(parse_message(raw), AbsorbMessage)


def test_bugs_are_not_poison() -> None:
    assert is_poison(OverflowError("date value out of range"))
    assert is_poison(ValueError("bad"))
    assert not is_poison(KeyError("kind"))
    assert not is_poison(TypeError("unhashable type"))
    assert not is_poison(AttributeError("x"))


def test_the_dlq_limit_stops_a_run_of_rejections_and_a_high_share() -> None:
    limit = DlqLimit(max_consecutive=3, max_ratio=0.5, window=10)
    for rejected in [True, True, False, True, True]:
        limit.record(rejected)
    with pytest.raises(DlqLimitExceeded, match="3 messages in a row"):
        limit.record(True)
    share = DlqLimit(max_consecutive=100, max_ratio=0.3, window=10)
    for n in range(9):
        share.record(rejected=n % 3 == 0)  # 3 of 9: the window is not full yet
    with pytest.raises(DlqLimitExceeded, match="40% of the last 10"):
        share.record(True)
    sliding = DlqLimit(max_consecutive=100, max_ratio=0.3, window=10)
    for n in range(100):
        sliding.record(rejected=n % 4 == 0)  # 2 or 3 of any 10: under the limit
    assert sliding.rejected_recently == sum(sliding.recent) == 2


def test_a_dead_letter_names_the_site_and_event_when_it_can() -> None:
    event_id = str(uuid.uuid4())
    body = {"kind": "event", "site_id": "shop", "event": {"event_id": event_id}}
    record = orjson.loads(dead_letter(orjson.dumps(body), "OverflowError: x", "profile"))
    assert (record["site_id"], record["event_id"], record["stage"]) == ("shop", event_id, "profile")
    garbled = orjson.loads(dead_letter(b"\xff{", "not json", "identity"))
    assert "site_id" not in garbled
    assert garbled["payload"]


def test_a_batch_folds_each_profile_once_to_the_state_of_one_message_at_a_time() -> None:
    messages = [
        event_message("page_view", at(0), 1),
        event_message("cart_add", at(0, 1), 2, properties={"product_id": "p1", "price": "9"}),
        event_message("page_view", at(0, 2), 1),  # read again within the batch: a replay
        event_message("checkout_started", at(0, 3), 3),
    ]
    one_by_one = new_profile("shop", "c1")
    for message in messages:
        outcome = step(one_by_one, message, CONFIG, NOW, 1_800_000_000.0)
        if isinstance(outcome, Applied):
            one_by_one = outcome.after
    pending: PendingProfiles[int] = PendingProfiles()
    folded = 0
    for message in messages:
        before = pending.latest("shop:c1") or new_profile("shop", "c1")
        outcome = step(before, message, CONFIG, NOW, 1_800_000_000.0)
        if isinstance(outcome, Applied):
            folded += pending.fold("shop:c1", before, outcome, origin=len(messages))
    written = pending.drain()
    assert folded == 3
    assert [key for key, _ in written] == ["shop:c1"]  # one write for the whole batch
    assert written[0][1].profile == one_by_one
    assert not written[0][1].urgent  # no order, no consent change: the throttle decides
    assert pending.latest("shop:c1") is None  # drained
