"""Every message of a partition, in order, and no commit past one not processed.

Faust's consumer can lose its place around a rebalance (records fetched before it are
dropped, then fetching goes on after them; faust-streaming issues #216, #221, #606) and then
treats the hole as a compaction gap, committing past messages nobody processed. The topics
the worker reads are never compacted, so a hole always means skipped messages: the agent
stops, goes back to the first one, and takes the messages that were read before the rewind
when they come again (:class:`Continuity`). Faust's books of acknowledged offsets count
messages the agent never processed (those it passes over during a rewind; those fetched
before a rebalance and skipped by Faust's stream after it), so the offset Faust would commit
is capped by the agent's own place in the partition (:class:`CommitOffsets`). Pure: the
worker's consumer (``transport.py``) seeks and commits.
"""

from __future__ import annotations

from collections.abc import Container, Hashable, Iterable
from dataclasses import dataclass, field

RESEEK_S = 10.0
"""How long a rewind may wait for its first message before the worker seeks again and asks
the broker whether the message is still there. A hole is never given up on for time alone:
on a loaded machine (a table recovery, a slow broker after a restart) a rewind can wait a
minute, and messages skipped then would be lost."""


@dataclass(frozen=True)
class Verdict:
    deliver: bool
    """Process this message now."""
    rewind_to: int | None = None
    """Seek the partition back to this offset first."""
    new_hole: bool = False
    """The hole was just found (worth a log line)."""
    accepted_hole: tuple[int, int] | None = None
    """Offsets ``[start, end)`` given up on: the broker no longer has them (retention)."""
    taken: int | None = None
    """When ``deliver``: this message's offset, the agent's new place in its partition."""
    stale: bool = False
    """The rewind has waited ``RESEEK_S``: ask the broker for the partition's earliest offset
    and hand it to :meth:`Continuity.resume`."""


@dataclass
class Rewind:
    """A rewind under way: back to ``start`` since ``since``; ``gone_from`` is where the
    offsets the broker no longer has begin, when it said so."""

    start: int
    since: float
    gone_from: int | None = None


@dataclass
class Continuity:
    """The next offset expected per partition, and the rewinds under way."""

    expected: dict[Hashable, int] = field(default_factory=dict)
    rewinding: dict[Hashable, Rewind] = field(default_factory=dict)

    def check(self, tp: Hashable, offset: int, now: float, committed: int | None) -> Verdict:
        """What to do with the message at ``offset``; ``committed`` is the partition's
        committed offset, the expectation for the first message after an assignment."""
        rewind = self.rewinding.get(tp)
        if rewind is not None:
            if offset > rewind.start:
                # Read before the rewind; it comes again (or the seek was lost: seek again).
                return Verdict(deliver=False, stale=now - rewind.since >= RESEEK_S)
            del self.rewinding[tp]
            gone = rewind.gone_from
            return self.deliver(tp, offset, None if gone is None else (gone, rewind.start))
        want = self.expected.get(tp, committed)
        if want is not None and offset > want:
            self.rewinding[tp] = Rewind(want, now)
            return Verdict(deliver=False, rewind_to=want, new_hole=True)
        return self.deliver(tp, offset)  # the next one, or a replay from an earlier offset

    def resume(self, tp: Hashable, offset: int, now: float, earliest: int) -> Verdict:
        """A stale rewind of ``tp`` (the message at ``offset`` came instead of its first
        one), given the broker's ``earliest`` offset of the partition: seek again to the
        first message still missing; the offsets below ``earliest`` are gone for good."""
        rewind = self.rewinding[tp]
        if earliest <= rewind.start:  # still on the broker: the seek itself was lost
            self.rewinding[tp] = Rewind(rewind.start, now, rewind.gone_from)
            return Verdict(deliver=False, rewind_to=rewind.start)
        gone = rewind.start if rewind.gone_from is None else rewind.gone_from
        if offset <= earliest:
            del self.rewinding[tp]
            return self.deliver(tp, offset, (gone, offset))
        self.rewinding[tp] = Rewind(earliest, now, gone)
        return Verdict(deliver=False, rewind_to=earliest)

    def deliver(
        self, tp: Hashable, offset: int, accepted_hole: tuple[int, int] | None = None
    ) -> Verdict:
        self.expected[tp] = offset + 1
        return Verdict(deliver=True, accepted_hole=accepted_hole, taken=offset)

    def forget(self) -> None:
        """Partitions moved: expectations start again from the committed offsets."""
        self.expected.clear()
        self.rewinding.clear()


@dataclass
class CommitOffsets:
    """The commit protocol: the offset committed for a partition never passes the agent's
    place in it, the message it took last in order since the partition was assigned (one
    past it once it is processed).

    Faust commits up to the end of the first run of offsets in its books of acknowledged
    ones, and its books hold more than the agent processed: its stream acknowledges the
    messages the agent passes over during a rewind, and (in its Python iterator) the
    messages fetched before a rebalance that it skips after it; and when the run starts one
    past the committed offset, Faust commits it anyway (its check for a missing first
    message is off by one). So the agent's place caps Faust's candidate. The agent takes the
    messages of a partition in order and each is acknowledged before the next is taken, so
    in normal flow the cap is Faust's own candidate: commits and lag are as Faust's. After
    an assignment nothing is committed until the agent has taken a message (the committed
    one, as :class:`Continuity` sees to) and processed it. An acknowledgement Faust holds
    for a message when the agent takes it is not from this processing: it is dropped.
    """

    taking: dict[Hashable, int] = field(default_factory=dict)
    """Partition → the offset of the message the agent took last since the assignment."""
    held: dict[Hashable, int] = field(default_factory=dict)
    """Partition → the first offset of a batch whose state is not written yet."""

    def hold(self, tp: Hashable, offset: int) -> None:
        """A message processed into a batch that is not written yet: no commit passes the
        batch's first one until :meth:`release` (a commit in between, then a stop or a crash,
        would lose the batch)."""
        self.held.setdefault(tp, offset)

    def release(self) -> None:
        """The batches held are written: their messages may be committed."""
        self.held.clear()

    def follow(self, tp: Hashable, verdict: Verdict) -> int | None:
        """A verdict of :class:`Continuity`, before its message is processed. Returns the
        offset of the message taken: an acknowledgement of it that Faust holds now must be
        dropped."""
        if verdict.taken is not None:
            self.taking[tp] = verdict.taken
        return verdict.taken

    def limit(self, tp: Hashable, acknowledged: Container[int]) -> int | None:
        """The highest offset that may be committed for ``tp`` (None: nothing may), given
        the offsets Faust holds as ``acknowledged``: the message taken last counts once it
        is processed."""
        taken = self.taking.get(tp)
        if taken is None:
            return None
        done = taken + 1 if taken in acknowledged else taken
        floor = self.held.get(tp)
        return done if floor is None else min(done, floor)

    def forget(self, tps: Iterable[Hashable] | None = None) -> None:
        """Partitions moved (``tps``, or all): nothing is committed for them until the agent
        has processed a message of their new assignment."""
        if tps is None:
            self.taking.clear()
            self.held.clear()
            return
        for tp in tps:
            self.taking.pop(tp, None)
            self.held.pop(tp, None)
