"""A migrated database of its own inside the test process's in-memory engine."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from sinks.migrate import migrate_up


@contextmanager
def scratch_database(name: str) -> Iterator[Client]:
    """A client using database ``name``, created and migrated on entry, dropped on exit."""
    client = clickhouse_connect.get_client(dsn="chdb://memory")
    client.command(f"CREATE DATABASE IF NOT EXISTS {name}")
    client.command(f"USE {name}")
    migrate_up(client)
    try:
        yield client
    finally:
        client.command(f"DROP DATABASE {name}")
        client.command("USE default")
