"""Live objects of one worker in front of its tables (the tables stay the source of truth).

A table read costs a store lookup, a JSON decode and a model validation; the agents read the
same keys over and over. The cache holds the validated object last stored (or read) for a key
and is emptied whenever partitions move, so after a rebalance or a recovery every key is read
from its table again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass
class LiveCache(Generic[T]):
    """A bounded map of key → live object; the oldest entries leave first."""

    limit: int
    entries: dict[str, T] = field(default_factory=dict)

    def get(self, key: str, read: Callable[[], T]) -> T:
        """The live object of ``key``, read from the table by ``read`` when not held."""
        found = self.entries.get(key)
        if found is None:
            found = read()
            self.put(key, found)
        return found

    def put(self, key: str, value: T) -> None:
        self.entries[key] = value
        if len(self.entries) > self.limit:
            del self.entries[next(iter(self.entries))]

    def clear(self) -> None:
        self.entries.clear()
