"""Every message of a partition, in order: a guard against messages the consumer skipped.

Faust's consumer can lose its place around a rebalance (records fetched before it are
dropped, then fetching goes on after them; faust-streaming issues #216, #221, #606) and then
treats the hole as a compaction gap, committing past messages nobody processed. The topics
the worker reads are never compacted, so a hole always means skipped messages: the agent
stops, goes back to the first one, and takes the messages that were read before the rewind
when they come again. Pure: the worker's consumer (``transport.py``) does the seeking.
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
    """True: stop committing the partition (messages passed over are acknowledged by Faust
    without being processed); False: commit again, every one of them was processed since."""


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
                return Verdict(deliver=False)  # read before the rewind; it comes again
            del self.rewinding[tp]
            self.expected[tp] = offset + 1
            hole = (start, offset) if offset > start else None
            return Verdict(
                deliver=True, accepted_hole=hole, hold_commits=self.caught_up(tp, offset)
            )
        want = self.expected.get(tp, committed)
        if want is not None and offset > want:
            self.rewinding[tp] = (want, now)
            self.pass_over(tp, offset)
            return Verdict(deliver=False, rewind_to=want, new_hole=True, hold_commits=True)
        self.expected[tp] = offset + 1  # the next one, or a replay from an earlier offset
        return Verdict(deliver=True, hold_commits=self.caught_up(tp, offset))

    def pass_over(self, tp: Hashable, offset: int) -> None:
        self.passed_over[tp] = max(offset, self.passed_over.get(tp, offset))

    def caught_up(self, tp: Hashable, offset: int) -> bool | None:
        """False (commit again) once processing reached every message passed over."""
        last = self.passed_over.get(tp)
        if last is None or offset < last:
            return None
        del self.passed_over[tp]
        return False

    def forget(self) -> None:
        """Partitions moved: expectations start again from the committed offsets."""
        self.expected.clear()
        self.rewinding.clear()
        self.passed_over.clear()
