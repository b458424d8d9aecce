"""Which input offsets are settled, so a commit never skips an unfinished delivery."""

from __future__ import annotations

from collections import defaultdict

from aiokafka import TopicPartition


class OffsetTracker:
    """Per partition: records still being worked on, and the position safe to commit.

    A record may start several deliveries; it is settled when all of them are. The commit
    position is the lowest unsettled offset, or the offset after the last record seen.
    """

    def __init__(self) -> None:
        self.open: dict[TopicPartition, dict[int, int]] = defaultdict(dict)
        self.after: dict[TopicPartition, int] = {}
        self.committed: dict[TopicPartition, int] = {}

    def started(self, tp: TopicPartition, offset: int, parts: int) -> None:
        if parts > 0:
            self.open[tp][offset] = self.open[tp].get(offset, 0) + parts
        self.after[tp] = max(self.after.get(tp, 0), offset + 1)

    def settled(self, tp: TopicPartition, offset: int) -> None:
        waiting = self.open[tp]
        if offset not in waiting:
            return
        waiting[offset] -= 1
        if waiting[offset] <= 0:
            del waiting[offset]

    def positions(self, assigned: set[TopicPartition]) -> dict[TopicPartition, int]:
        """Positions to commit now (only those that moved since the last commit)."""
        moves: dict[TopicPartition, int] = {}
        for tp in assigned:
            if tp not in self.after:
                continue
            waiting = self.open.get(tp)
            position = min(waiting) if waiting else self.after[tp]
            if position > self.committed.get(tp, -1):
                moves[tp] = position
        return moves

    def committed_at(self, positions: dict[TopicPartition, int]) -> None:
        self.committed.update(positions)

    def forget(self, revoked: set[TopicPartition]) -> None:
        for tp in revoked:
            self.open.pop(tp, None)
            self.after.pop(tp, None)
            self.committed.pop(tp, None)
