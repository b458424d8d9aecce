"""The continuity guard: a hole in a partition's offsets sends the agent back for it."""

from __future__ import annotations

from faust.types import TP as TopicPartition

from stream_processors.continuity import RESEEK_S, CommitOffsets, Continuity, Verdict
from stream_processors.transport import ReadOffsets

TP = ("events.identified", 1)
OTHER = ("events.identified", 2)


def test_consecutive_messages_and_replays_are_delivered() -> None:
    guard = Continuity()
    assert guard.check(TP, 0, 0.0, committed=None) == Verdict(deliver=True, taken=0)
    assert guard.check(TP, 1, 0.0, committed=None) == Verdict(deliver=True, taken=1)
    assert guard.check(TP, 0, 0.0, committed=None) == Verdict(deliver=True, taken=0)  # a replay
    assert guard.check(TP, 1, 0.0, committed=None) == Verdict(deliver=True, taken=1)
    assert guard.check(OTHER, 7, 0.0, committed=None) == Verdict(deliver=True, taken=7)


def test_a_hole_rewinds_and_the_messages_read_before_the_rewind_wait_their_turn() -> None:
    guard = Continuity()
    for offset in range(51):
        assert guard.check(TP, offset, 0.0, committed=None).deliver
    assert guard.check(TP, 104, 1.0, committed=None) == Verdict(
        deliver=False, rewind_to=51, new_hole=True
    )
    # Messages fetched before the seek still arrive: they are not processed now...
    assert guard.check(TP, 105, 1.1, committed=None) == Verdict(deliver=False)
    assert guard.check(OTHER, 3, 1.1, committed=None) == Verdict(deliver=True, taken=3)
    # ... but after the skipped ones, in order.
    for offset in range(51, 107):
        assert guard.check(TP, offset, 2.0, committed=None) == Verdict(deliver=True, taken=offset)


def test_the_first_message_after_an_assignment_must_be_the_committed_one() -> None:
    guard = Continuity()
    assert guard.check(TP, 140, 0.0, committed=120) == Verdict(
        deliver=False, rewind_to=120, new_hole=True
    )
    assert guard.check(TP, 120, 0.5, committed=120) == Verdict(deliver=True, taken=120)
    guard.forget()
    assert guard.check(TP, 90, 1.0, committed=120) == Verdict(deliver=True, taken=90)  # a replay


def test_a_rewind_that_waits_seeks_again_and_never_gives_up_for_time_alone() -> None:
    guard = Continuity()
    assert guard.check(TP, 10, 0.0, committed=None).deliver
    assert guard.check(TP, 500, 1.0, committed=None).rewind_to == 11
    assert guard.check(TP, 500, 1.0 + RESEEK_S / 2, committed=None) == Verdict(deliver=False)
    for waited in (1, 2, 10, 100):  # minutes: the broker still has 11, so 11 it is
        at = 1.0 + waited * 60
        assert guard.check(TP, 501, at, committed=None) == Verdict(deliver=False, stale=True)
        assert guard.resume(TP, 501, at, earliest=0) == Verdict(deliver=False, rewind_to=11)
        assert guard.check(TP, 502, at + 1, committed=None) == Verdict(deliver=False)
    assert guard.check(TP, 11, 7000.0, committed=None) == Verdict(deliver=True, taken=11)


def test_a_hole_the_broker_no_longer_has_is_accepted_and_what_it_has_is_read() -> None:
    guard = Continuity()
    assert guard.check(TP, 10, 0.0, committed=None).deliver
    assert guard.check(TP, 500, 1.0, committed=None).rewind_to == 11
    assert guard.check(TP, 500, 1.0 + RESEEK_S, committed=None).stale
    # Retention removed 11..299: read again from 300, the first message it still has.
    assert guard.resume(TP, 500, 1.0 + RESEEK_S, earliest=300) == Verdict(
        deliver=False, rewind_to=300
    )
    assert guard.check(TP, 501, 2.0 + RESEEK_S, committed=None) == Verdict(deliver=False)
    assert guard.check(TP, 300, 3.0 + RESEEK_S, committed=None) == Verdict(
        deliver=True, accepted_hole=(11, 300), taken=300
    )
    assert guard.check(TP, 301, 3.0 + RESEEK_S, committed=None) == Verdict(deliver=True, taken=301)
    # The message that came is the earliest the broker has: it is the next one.
    guard.check(TP, 900, 4.0, committed=None)
    assert guard.resume(TP, 950, 4.0 + RESEEK_S, earliest=950) == Verdict(
        deliver=True, accepted_hole=(302, 950), taken=950
    )


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


def test_commits_stop_at_the_message_taken_last_until_it_is_processed() -> None:
    guard, commits = Continuity(), CommitOffsets()
    acknowledged: set[int] = set()

    def take(offset: int) -> int | None:
        return commits.follow(TP, guard.check(TP, offset, 1.0, committed=None))

    assert commits.limit(TP, acknowledged) is None  # nothing taken: nothing committed
    for offset in range(51):
        assert take(offset) == offset  # any acknowledgement Faust holds for it is dropped
        assert commits.limit(TP, acknowledged) == offset  # being processed
        acknowledged.add(offset)
        assert commits.limit(TP, acknowledged) == offset + 1  # processed
    assert commits.limit(OTHER, acknowledged) is None  # partitions are apart
    assert take(104) is None  # passed over: Faust acknowledges it, unprocessed
    acknowledged.add(104)
    assert take(105) is None
    assert commits.limit(TP, acknowledged) == 51  # Faust would count 51..105 as done
    for offset in range(51, 106):
        assert take(offset) == offset  # 104 and 105: their pass-over is dropped
        acknowledged.discard(offset)
        assert commits.limit(TP, acknowledged) == offset
        acknowledged.add(offset)
    assert commits.limit(TP, acknowledged) == 106


def test_a_hole_given_up_on_is_passed() -> None:
    guard, commits = Continuity(), CommitOffsets()
    commits.follow(TP, guard.check(TP, 10, 0.0, committed=None))
    assert commits.follow(TP, guard.check(TP, 500, 1.0, committed=None)) is None  # passed over
    assert commits.limit(TP, {10, 500}) == 11
    assert guard.check(TP, 500, 1.0 + RESEEK_S, committed=None).stale
    assert commits.follow(TP, guard.resume(TP, 500, 1.0 + RESEEK_S, earliest=500)) == 500
    assert commits.limit(TP, {500}) == 501  # 11..499 are gone


def test_moved_partitions_commit_nothing_until_a_message_is_processed() -> None:
    guard, commits = Continuity(), CommitOffsets()
    commits.follow(TP, guard.check(TP, 120, 0.0, committed=120))
    commits.follow(OTHER, guard.check(OTHER, 7, 0.0, committed=7))
    commits.forget([TP])  # revoked
    assert commits.limit(TP, {120}) is None
    assert commits.limit(OTHER, {7}) == 8
    commits.forget()  # all of them
    assert commits.limit(OTHER, {7}) is None


def test_no_commit_passes_a_batch_whose_state_is_not_written() -> None:
    commits = CommitOffsets()
    tp = ("footfall.events.identified", 0)
    for offset in range(10, 15):  # a batch: each message taken, processed, acknowledged
        commits.follow(tp, Verdict(deliver=True, taken=offset))
        commits.hold(tp, offset)
    assert commits.limit(tp, set(range(10, 15))) == 10  # its state is only in memory
    commits.release()
    assert commits.limit(tp, set(range(10, 15))) == 15  # written: all of it may be committed
    commits.hold(tp, 15)
    commits.forget([tp])
    assert commits.held == {}
