"""The continuity guard: a hole in a partition's offsets sends the agent back for it."""

from __future__ import annotations

from faust.types import TP as TopicPartition

from stream_processors.continuity import GIVE_UP_S, Continuity, Verdict
from stream_processors.transport import ReadOffsets

TP = ("events.identified", 1)
OTHER = ("events.identified", 2)


def test_consecutive_messages_and_replays_are_delivered() -> None:
    guard = Continuity()
    assert guard.check(TP, 0, 0.0, committed=None) == Verdict(deliver=True)
    assert guard.check(TP, 1, 0.0, committed=None) == Verdict(deliver=True)
    assert guard.check(TP, 0, 0.0, committed=None) == Verdict(deliver=True)  # a replay
    assert guard.check(TP, 1, 0.0, committed=None) == Verdict(deliver=True)
    assert guard.check(OTHER, 7, 0.0, committed=None) == Verdict(deliver=True)


def test_a_hole_rewinds_and_the_messages_read_before_the_rewind_wait_their_turn() -> None:
    guard = Continuity()
    for offset in range(51):
        assert guard.check(TP, offset, 0.0, committed=None).deliver
    assert guard.check(TP, 104, 1.0, committed=None) == Verdict(
        deliver=False, rewind_to=51, new_hole=True, hold_commits=True
    )
    # Messages fetched before the seek still arrive: they are not processed now...
    assert guard.check(TP, 105, 1.1, committed=None) == Verdict(deliver=False)
    assert guard.check(OTHER, 3, 1.1, committed=None).deliver  # other partitions go on
    # ... but after the skipped ones, in order; commits resume once 105 is processed.
    for offset in range(51, 105):
        assert guard.check(TP, offset, 2.0, committed=None) == Verdict(deliver=True)
    assert guard.check(TP, 105, 2.0, committed=None) == Verdict(deliver=True, hold_commits=False)
    assert guard.check(TP, 106, 2.0, committed=None) == Verdict(deliver=True)


def test_the_first_message_after_an_assignment_must_be_the_committed_one() -> None:
    guard = Continuity()
    assert guard.check(TP, 140, 0.0, committed=120) == Verdict(
        deliver=False, rewind_to=120, new_hole=True, hold_commits=True
    )
    assert guard.check(TP, 120, 0.5, committed=120) == Verdict(deliver=True)
    guard.forget()
    assert guard.check(TP, 90, 1.0, committed=120) == Verdict(deliver=True)  # replays are fine


def test_a_hole_no_longer_on_the_broker_is_accepted_after_a_while() -> None:
    guard = Continuity()
    assert guard.check(TP, 10, 0.0, committed=None).deliver
    assert guard.check(TP, 500, 1.0, committed=None).rewind_to == 11
    assert not guard.check(TP, 500, 1.0 + GIVE_UP_S / 2, committed=None).deliver
    late = guard.check(TP, 500, 1.0 + GIVE_UP_S, committed=None)
    assert late == Verdict(deliver=True, accepted_hole=(11, 500), hold_commits=False)
    assert guard.check(TP, 501, 2.0 + GIVE_UP_S, committed=None) == Verdict(deliver=True)


def test_the_read_position_holds_at_a_rewind_until_its_first_message_is_handed_over() -> None:
    tp = TopicPartition("footfall.events.identified", 1)
    offsets = ReadOffsets()
    offsets[tp] = 50
    offsets.rewind(tp, 51)
    offsets[tp] = 104  # handed over after the rewind, fetched before it: ignored
    assert offsets[tp] == 51
    offsets[tp] = 51
    offsets[tp] = 52
    assert offsets[tp] == 52
    offsets.rewind(tp, 60)
    offsets.update({tp: 40})  # a rebalance seeks to the committed offset: no rewind left
    offsets[tp] = 41
    assert offsets[tp] == 41
    other = TopicPartition("footfall.events", 0)
    assert offsets[other] is None
