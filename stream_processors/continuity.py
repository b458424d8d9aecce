"""Every message of a partition, in order, and no commit past one not processed.

Faust's consumer can lose its place around a rebalance (records fetched before it are
dropped, then fetching goes on after them; faust-streaming issues #216, #221, #606) and then
treats the hole as a compaction gap, committing past messages nobody processed. The topics
the worker reads are never compacted, so a hole always means skipped messages: the agent
stops, goes back to the first one, and takes the messages that were read before the rewind
when they come again (:class:`Continuity`). Meanwhile Faust acknowledges the messages passed
over as if they were done, so the offset it would commit is capped by the commit protocol
(:class:`CommitOffsets`). Pure: the worker's consumer (``transport.py``) seeks and commits.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field

GIVE_UP_S = 60.0
"""How long a rewind may wait for its first message (gone when the topic's retention
removed it) before the hole is accepted."""


@dataclass(frozen=True)
class Verdict:
    deliver: bool
    """Process this message now."""
    rewind_to: int | None = None
    """Seek the partition back to this offset first."""
    new_hole: bool = False
    """The hole was just found (worth a log line)."""
    accepted_hole: tuple[int, int] | None = None
    """Offsets ``[start, end)`` given up on (no longer on the broker)."""
    hold_commits: bool | None = None
    """True: a hole was found, the partition is held (messages passed over are acknowledged
    by Faust without being processed); False: this message is the last one passed over, taken
    again: the hold ends."""
    first_unprocessed: int | None = None
    """While the partition is held, its first message not processed yet (the rewind's start,
    or this message): no commit of the partition may pass it."""


@dataclass
class Continuity:
    """The next offset expected per partition, and the rewinds under way."""

    expected: dict[Hashable, int] = field(default_factory=dict)
    rewinding: dict[Hashable, tuple[int, float]] = field(default_factory=dict)
    passed_over: dict[Hashable, int] = field(default_factory=dict)
    """Partition → the highest offset passed over unprocessed while rewinding."""

    def check(self, tp: Hashable, offset: int, now: float, committed: int | None) -> Verdict:
        """What to do with the message at ``offset``; ``committed`` is the partition's
        committed offset, the expectation for the first message after an assignment."""
        if tp in self.rewinding:
            start, since = self.rewinding[tp]
            if offset > start and now - since < GIVE_UP_S:
                self.pass_over(tp, offset)
                # Read before the rewind; it comes again.
                return Verdict(deliver=False, first_unprocessed=start)
            del self.rewinding[tp]
            return self.deliver(tp, offset, (start, offset) if offset > start else None)
        want = self.expected.get(tp, committed)
        if want is not None and offset > want:
            self.rewinding[tp] = (want, now)
            self.pass_over(tp, offset)
            return Verdict(
                deliver=False,
                rewind_to=want,
                new_hole=True,
                hold_commits=True,
                first_unprocessed=want,
            )
        return self.deliver(tp, offset)  # the next one, or a replay from an earlier offset

    def pass_over(self, tp: Hashable, offset: int) -> None:
        self.passed_over[tp] = max(offset, self.passed_over.get(tp, offset))

    def deliver(
        self, tp: Hashable, offset: int, accepted_hole: tuple[int, int] | None = None
    ) -> Verdict:
        """Process the message at ``offset``. While messages passed over wait to come again,
        it is the partition's first unprocessed message; the last of them ends the hold."""
        self.expected[tp] = offset + 1
        last = self.passed_over.get(tp)
        if last is None:
            return Verdict(deliver=True, accepted_hole=accepted_hole)
        caught_up = offset >= last
        if caught_up:
            del self.passed_over[tp]
        return Verdict(
            deliver=True,
            accepted_hole=accepted_hole,
            hold_commits=False if caught_up else None,
            first_unprocessed=offset,
        )

    def forget(self) -> None:
        """Partitions moved: expectations start again from the committed offsets."""
        self.expected.clear()
        self.rewinding.clear()
        self.passed_over.clear()


@dataclass
class CommitOffsets:
    """The commit protocol: the offset committed for a partition never passes its first
    message not processed.

    Faust commits up to the end of the first run of acknowledged offsets, and its stream
    acknowledges every message it hands over, so the messages passed over during a rewind
    count as done while they wait to come again: a run through the messages read again
    reaches them, and Faust would commit past them. (The hole itself is not counted on the
    worker's source topics.) So a held partition's commits are capped at its first
    unprocessed message, as each verdict tells it. When a message passed over is taken
    again, its acknowledgement from the pass-over is dropped; once the last of them is
    taken, Faust's books hold only messages processed, and the hold ends.
    """

    holds: dict[Hashable, int] = field(default_factory=dict)
    """Held partition → its first unprocessed offset."""

    def follow(self, tp: Hashable, verdict: Verdict) -> int | None:
        """A verdict of :class:`Continuity`, before its message is processed. Returns the
        offset of a held partition's message taken again: an acknowledgement of it that
        Faust still holds is from its pass-over, and must be dropped."""
        if verdict.hold_commits is False:
            self.holds.pop(tp, None)
        elif verdict.first_unprocessed is not None:
            self.holds[tp] = verdict.first_unprocessed
        return verdict.first_unprocessed if verdict.deliver else None

    def committable(self, tp: Hashable, offset: int | None) -> int | None:
        """The offset to commit for ``tp`` instead of ``offset``, Faust's candidate."""
        first = self.holds.get(tp)
        if first is None or offset is None:
            return offset
        return min(offset, first)

    def forget(self) -> None:
        """Partitions moved: reading resumes from the committed offsets, nothing is held."""
        self.holds.clear()
