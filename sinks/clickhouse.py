"""One way to reach ClickHouse, embedded (chDB) or a server: clickhouse-connect's Client."""

from __future__ import annotations

import asyncio
import fcntl
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

import clickhouse_connect
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import OperationalError

from sinks.rows import INSERT_FORMAT, encode

TRANSIENT_ERRORS: tuple[type[Exception], ...] = (OperationalError, ConnectionError, TimeoutError)
log = logging.getLogger("footfall.sink")


class Store(Protocol):
    """What the sink asks of ClickHouse: clickhouse-connect's ``Client`` or ``EngineClient``."""

    def command(self, cmd: str, parameters: Any = None) -> Any: ...

    def query(self, query: str, parameters: Any = None) -> Any: ...

    def raw_query(self, query: str, parameters: Any = None) -> bytes: ...

    def insert(
        self, table: str, data: Sequence[Sequence[Any]], column_names: Sequence[str]
    ) -> Any: ...

    def raw_insert(
        self, table: str, column_names: Sequence[str], insert_block: bytes, *, fmt: str
    ) -> Any: ...

    def close(self) -> None: ...


def insert_rows(store: Store, table: str, columns: Sequence[str], rows: list[list[Any]]) -> None:
    """Store ``rows`` (values in ``columns`` order) as the sink does: as JSON columns."""
    store.raw_insert(table, list(columns), encode(rows), fmt=INSERT_FORMAT)


class StoreLocked(RuntimeError):
    """Another process owns the embedded ClickHouse directory."""


WAIT_FOR: tuple[type[Exception], ...] = (StoreLocked, *TRANSIENT_ERRORS)


def is_embedded(dsn: str) -> bool:
    return dsn.startswith("chdb:")


def embedded_dsn(dsn: str) -> str:
    """Turn a relative ``chdb://dir`` into the absolute ``chdb:///abs/dir`` chDB wants."""
    if dsn in ("chdb://memory", "chdb://:memory:"):
        return "chdb://memory"
    path = dsn.removeprefix("chdb://")
    absolute = Path(path).resolve() if not path.startswith("/") else Path(path)
    absolute.mkdir(parents=True, exist_ok=True)
    return f"chdb://{absolute}"


def owned_elsewhere(directory: Path) -> bool:
    """Whether another process holds the store's ``status`` lock (ClickHouse flocks it)."""
    try:
        with (directory / "status").open("rb") as status:
            fcntl.flock(status, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(status, fcntl.LOCK_UN)
    except FileNotFoundError:
        return False
    except BlockingIOError:
        return True
    return False


def connect(dsn: str) -> Client:
    """A client for ``dsn``; an embedded directory owned by another process is refused."""
    if is_embedded(dsn):
        location = embedded_dsn(dsn)
        try:
            return clickhouse_connect.get_client(dsn=location)
        except Exception as exc:  # chDB says why on stderr only; the lock tells
            if location != "chdb://memory" and owned_elsewhere(
                Path(location.removeprefix("chdb://"))
            ):
                raise StoreLocked(
                    f"{dsn} is owned by another process (only one process may open an "
                    "embedded store; query it through the sink's SQL endpoint instead)"
                ) from exc
            raise
    parsed = urlparse(dsn)
    return clickhouse_connect.get_client(
        host=parsed.hostname or "localhost",
        port=parsed.port or 8123,
        username=parsed.username or "default",
        password=parsed.password or "",
        database=parsed.path.strip("/") or "default",
        secure=parsed.scheme == "https",
    )


async def open_when_available(
    dsn: str,
    max_backoff_s: float,
    on_wait: Callable[[str], None],
    opener: Callable[[str], Store],
) -> Store:
    """Open ``dsn``, waiting with backoff while the store is locked or the server is down.

    ``on_wait`` hears why, each time; nothing is consumed meanwhile, so Kafka keeps the offsets.
    """
    delay = 0.5
    while True:
        try:
            return await asyncio.to_thread(opener, dsn)
        except WAIT_FOR as exc:
            reason = f"{type(exc).__name__}: {exc}"
            log.warning("waiting for ClickHouse at %s (%s); next try in %.1fs", dsn, reason, delay)
            on_wait(reason)
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_backoff_s)
