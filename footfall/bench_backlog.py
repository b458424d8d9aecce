"""How far behind each process of the stack is, for ``footfall bench stack``: consumer lag
per group, read from the broker, and events the collector acknowledged that are not yet rows
in ClickHouse ``events`` (the one backlog that does not depend on the broker's offsets).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiokafka.errors import KafkaError

from base.lag import LagReader, total_lag
from base.sqlclient import QueryError, SqlClient
from footfall.bench_load import Ledger
from footfall.stack import StackSettings
from sinks.settings import SinkSettings
from stream_processors.settings import WorkerSettings
from webhooks.settings import WebhookSettings

Say = Callable[[str], None]
READ_TIMEOUT_S = 5.0
DRAIN_SLACK = 200
"""Backlog left from the previous window that counts as drained (commits trail by a second)."""
MAX_UNREAD = 10
"""Failed backlog readings in a row after which a drain gives up: nothing can be judged."""


class BacklogUnreadable(RuntimeError):
    """The backlogs cannot be read: the broker or the sink's SQL endpoint does not answer."""


@dataclass
class Watch:
    """Reads how far behind each process is: consumer lag per group, and the accepted
    events not yet rows in ClickHouse ``events``."""

    settings: StackSettings
    ledger: Ledger
    sql: SqlClient
    groups: dict[str, list[str]] = field(default_factory=dict)
    reader: LagReader | None = None
    failed_reads: int = 0
    last_error: str = ""

    def __post_init__(self) -> None:
        prefix = self.settings.topic_prefix
        hooks = WebhookSettings(topic_prefix=prefix)
        self.groups = {
            "worker": [WorkerSettings(topic_prefix=prefix).app_id],
            "sink": [SinkSettings(topic_prefix=prefix).group_id],
            "webhooks": [hooks.group_id, hooks.retry_group_id],
        }

    async def read(self) -> dict[str, int] | None:
        """One reading of every backlog; None when the broker or the store did not answer."""
        ids = [group for names in self.groups.values() for group in names]
        try:
            if self.reader is None:
                timeout_ms, prefix = int(READ_TIMEOUT_S * 1000), self.settings.topic_prefix
                self.reader = LagReader(self.settings.bootstrap, timeout_ms, prefix)
                await asyncio.wait_for(self.reader.start(), READ_TIMEOUT_S)
            rows = await asyncio.wait_for(self.reader.read(ids), READ_TIMEOUT_S)
            stored = await asyncio.to_thread(self.sql.scalar, "SELECT count() FROM events")
        except (KafkaError, OSError, TimeoutError, QueryError) as exc:
            self.failed_reads += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
            if not isinstance(exc, QueryError):
                await self.close()
            return None
        lags = {name: total_lag(rows, names) for name, names in self.groups.items()}
        return lags | {"store": max(self.ledger.accepted - int(stored or 0), 0)}

    async def close(self) -> None:
        if self.reader is not None:
            reader, self.reader = self.reader, None
            await reader.close()

    async def drain(self, timeout_s: float, say: Say) -> dict[str, int] | None:
        """Wait until what an earlier window left behind is consumed (or ``timeout_s``)."""
        deadline = time.monotonic() + timeout_s
        lags = await self.read()
        unread = 0
        while time.monotonic() < deadline:
            if lags is not None and max(lags.values()) <= DRAIN_SLACK:
                return lags
            unread = unread + 1 if lags is None else 0
            if unread >= MAX_UNREAD:
                raise BacklogUnreadable(
                    f"no backlog could be read {unread} times in a row (the broker or the "
                    f"sink's SQL endpoint does not answer): {self.last_error}"
                )
            say(f"draining the backlog: {backlog_text(lags)}")
            await asyncio.sleep(1.0)
            lags = await self.read()
        return lags


def backlog_text(lags: dict[str, int] | None) -> str:
    if lags is None:
        return "no reading"
    return " · ".join(f"{name} {lag:,}" for name, lag in lags.items())
