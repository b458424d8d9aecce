"""The sink's memory of the events it stored lately, so a duplicate is caught without a query.

Looking every batch's keys up in ClickHouse is exact but costs a read of most of the table's
granules once it is large (a batch's browsers are spread over all of them: 170 to 870 ms per
5,000 keys on 2,000,000 events here). So the sink remembers a short hash of the key of every
event it stored, in two generations of at most ``capacity / 2`` hashes each (the older one is
dropped when the newer one fills), and asks ClickHouse only about the rows whose hash it
remembers: duplicates, and the rare hash that collides, which ClickHouse then clears — a
collision never costs an event. After a start the memory is filled from the events inserted
in the last ``hours`` (``load_statement``); after a partition is (re)assigned every key of its
first batch is looked up anyway, because another sink may have stored them.
"""

from __future__ import annotations

from collections.abc import Iterable

from sinks.rows import EventKey


class RecentKeys:
    def __init__(self, capacity: int) -> None:
        self.half = max(capacity // 2, 1)
        self.newer: set[int] = set()
        self.older: set[int] = set()

    def __len__(self) -> int:
        return len(self.newer) + len(self.older)

    def __contains__(self, key: object) -> bool:
        digest = hash(key)
        return digest in self.newer or digest in self.older

    def add(self, keys: Iterable[EventKey]) -> None:
        for key in keys:
            if len(self.newer) >= self.half:
                self.older, self.newer = self.newer, set()
            self.newer.add(hash(key))


def load_statement(table: str, hours: int, limit: int) -> str:
    """The keys of the events ``table`` took in the last ``hours``, newest first."""
    return (
        f"SELECT site_id, anonymous_id, toString(event_id) FROM {table} "
        f"WHERE inserted_at >= now64(3) - INTERVAL {int(hours)} HOUR "
        f"ORDER BY inserted_at DESC LIMIT {int(limit)}"
    )
