"""Whether the store answers: the tables' sizes read every few seconds on the read connection.

A frozen engine (a stopped process, a server that accepts and never answers) does not raise:
its statements just never return, and the writer waits with them. So the probe is judged by
age, not by outcome: a probe still unanswered after ``timeout_s`` makes the sink not ready,
with the time it has waited. Only one probe is ever outstanding, so a frozen store costs one
waiting thread, not one per interval. Its answer, the rows and bytes of every table, is what
``footfall_store_table_rows`` and ``…_bytes`` show.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from sinks.clickhouse import TRANSIENT_ERRORS, Store
from sinks.engine import EngineGone
from sinks.metrics import TABLE_SIZES, SinkMetrics

INTERVAL_S = 2.0
PROBE_ERRORS: tuple[type[Exception], ...] = (*TRANSIENT_ERRORS, EngineGone)


class StoreProbe:
    def __init__(self, reads: Callable[[], Store | None], metrics: SinkMetrics) -> None:
        self.reads = reads
        self.metrics = metrics
        self.pending_since: float | None = None
        self.last_error: str | None = None

    def problem(self, timeout_s: float) -> str | None:
        """Why the store cannot be called answering now, or None."""
        if self.pending_since is not None:
            waited = time.monotonic() - self.pending_since
            if waited > timeout_s:
                return f"store: a query unanswered for {waited:.0f}s (a frozen or hung engine)"
        if self.last_error is not None:
            return f"store: {self.last_error}"
        return None

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            store = self.reads()
            if store is not None:
                await self.probe(store)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), INTERVAL_S)

    async def probe(self, store: Store) -> None:
        began = self.pending_since = time.monotonic()
        try:
            answer = await asyncio.to_thread(store.query, TABLE_SIZES)
            self.metrics.table_sizes = {
                str(table): (int(rows), int(size)) for table, rows, size in answer.result_rows
            }
            self.last_error = None
        except PROBE_ERRORS as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"
        finally:
            self.metrics.probe_seconds.observe(time.monotonic() - began)
            self.pending_since = None
