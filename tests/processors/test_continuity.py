"""The continuity guard: a hole in a partition's offsets sends the agent back for it."""

from __future__ import annotations

from faust.types import TP as TopicPartition

from stream_processors.continuity import GIVE_UP_S, CommitOffsets, Continuity, Verdict
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
        deliver=False, rewind_to=51, new_hole=True, hold_commits=True, first_unprocessed=51
    )
    # Messages fetched before the seek still arrive: they are not processed now...
    assert guard.check(TP, 105, 1.1, committed=None) == Verdict(deliver=False, first_unprocessed=51)
    assert guard.check(OTHER, 3, 1.1, committed=None) == Verdict(deliver=True)  # others go on
    # ... but after the skipped ones, in order, each the first unprocessed one in its turn;
    # the hold ends once 105 is processed.
    for offset in range(51, 105):
        assert guard.check(TP, offset, 2.0, committed=None) == Verdict(
            deliver=True, first_unprocessed=offset
        )
    assert guard.check(TP, 105, 2.0, committed=None) == Verdict(
        deliver=True, hold_commits=False, first_unprocessed=105
    )
    assert guard.check(TP, 106, 2.0, committed=None) == Verdict(deliver=True)


def test_the_first_message_after_an_assignment_must_be_the_committed_one() -> None:
    guard = Continuity()
    assert guard.check(TP, 140, 0.0, committed=120) == Verdict(
        deliver=False, rewind_to=120, new_hole=True, hold_commits=True, first_unprocessed=120
    )
    assert guard.check(TP, 120, 0.5, committed=120) == Verdict(deliver=True, first_unprocessed=120)
    guard.forget()
    assert guard.check(TP, 90, 1.0, committed=120) == Verdict(deliver=True)  # replays are fine


def test_a_hole_no_longer_on_the_broker_is_accepted_after_a_while() -> None:
    guard = Continuity()
    assert guard.check(TP, 10, 0.0, committed=None).deliver
    assert guard.check(TP, 500, 1.0, committed=None).rewind_to == 11
    assert not guard.check(TP, 500, 1.0 + GIVE_UP_S / 2, committed=None).deliver
    late = guard.check(TP, 500, 1.0 + GIVE_UP_S, committed=None)
    assert late == Verdict(
        deliver=True, accepted_hole=(11, 500), hold_commits=False, first_unprocessed=500
    )
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


def test_a_held_partition_commits_up_to_its_first_unprocessed_message_only() -> None:
    guard, commits = Continuity(), CommitOffsets()

    def take(offset: int) -> int | None:
        return commits.follow(TP, guard.check(TP, offset, 1.0, committed=None))

    for offset in range(51):
        assert take(offset) is None
    assert commits.committable(TP, 51) == 51  # nothing held
    assert take(104) is None  # passed over: Faust acknowledges it, unprocessed
    assert take(105) is None
    assert commits.committable(TP, 106) == 51  # Faust counts 51..105 as done
    assert commits.committable(TP, 40) == 40
    assert commits.committable(TP, None) is None
    assert commits.committable(OTHER, 9) == 9  # other partitions are not held
    for offset in range(51, 80):
        assert take(offset) == offset  # a message taken again
    assert commits.committable(TP, 106) == 79  # moves up as they are taken
    for offset in range(80, 105):
        take(offset)
    assert commits.committable(TP, 106) == 104
    # The last one passed over: with its acknowledgement from the pass-over dropped, Faust's
    # books hold only messages processed again.
    assert take(105) == 105
    assert commits.committable(TP, 106) == 106
    assert commits.holds == {}


def test_a_hole_given_up_on_ends_the_hold() -> None:
    guard, commits = Continuity(), CommitOffsets()
    commits.follow(TP, guard.check(TP, 10, 0.0, committed=None))
    commits.follow(TP, guard.check(TP, 500, 1.0, committed=None))  # passed over
    assert commits.committable(TP, 501) == 11
    assert commits.follow(TP, guard.check(TP, 500, 1.0 + GIVE_UP_S, committed=None)) == 500
    assert commits.committable(TP, 501) == 501  # 11..499 are gone


def test_moved_partitions_hold_nothing() -> None:
    guard, commits = Continuity(), CommitOffsets()
    commits.follow(TP, guard.check(TP, 140, 0.0, committed=120))
    assert commits.committable(TP, 141) == 120
    commits.forget()
    assert commits.committable(TP, 141) == 141
