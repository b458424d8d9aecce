"""When each profile's next timer falls due, kept in memory. Pure.

The timer scan used to read (and decode) every profile of the worker's tables at each
interval: a cost that grows with the number of profiles, not with the traffic. The index is
filled by one such scan after each assignment and then kept up to date by the profile agent
at every write, so a scan only looks at the profiles that are due.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from stream_processors.journey_step import earliest_due


@dataclass
class DueIndex:
    """Table key → (due time, the same as stored: ISO text) of the profiles with a timer."""

    dues: dict[str, tuple[datetime, str]] = field(default_factory=dict)
    complete: bool = False
    """Filled from the table since the last assignment."""

    def note(self, key: str, stored: Mapping[str, Any]) -> None:
        """A profile as just written to the table."""
        due = earliest_due(stored)
        if due is None:
            self.dues.pop(key, None)
        else:
            self.dues[key] = (datetime.fromisoformat(due), due)

    def drop(self, key: str) -> None:
        """A profile removed from the table (erased, or inactive past its retention)."""
        self.dues.pop(key, None)

    def fill(self, items: Iterable[tuple[str, Any]]) -> None:
        """Every profile of the table (after an assignment or a recovery)."""
        self.dues.clear()
        for key, value in items:
            if isinstance(value, dict):
                self.note(key, value)
        self.complete = True

    def due_by(self, at: datetime) -> list[tuple[str, str]]:
        """The keys whose timer has fallen due by ``at``, with their due time as stored."""
        return [(key, text) for key, (due, text) in self.dues.items() if due <= at]

    def forget(self) -> None:
        """Partitions moved: filled again from the table before the next scan."""
        self.dues.clear()
        self.complete = False
