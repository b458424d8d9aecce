"""Migrations on the real embedded ClickHouse engine: up, down, and the resulting schema."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import clickhouse_connect
import pytest
from clickhouse_connect.driver.client import Client

from sinks.migrate import (
    MigrationError,
    applied_versions,
    load_migrations,
    migrate_down,
    migrate_up,
    parse_migration,
)

SNAPSHOT = Path(__file__).parent / "schema.snapshot"


@pytest.fixture
def client() -> Iterator[Client]:
    client = clickhouse_connect.get_client(dsn="chdb://memory")
    for (name,) in client.query("SHOW TABLES").result_rows:
        client.command(f"DROP TABLE IF EXISTS `{name}`")
    yield client
    for (name,) in client.query("SHOW TABLES").result_rows:
        client.command(f"DROP TABLE IF EXISTS `{name}`")


def schema(client: Client) -> str:
    rows = client.query(
        "SELECT table, name, type FROM system.columns WHERE database = currentDatabase() "
        "ORDER BY table, position"
    ).result_rows
    return "\n".join(f"{table}.{name} {kind}" for table, name, kind in rows) + "\n"


def test_migrations_are_numbered_without_gaps() -> None:
    versions = [m.version for m in load_migrations()]
    assert versions == list(range(1, len(versions) + 1))


def test_up_applies_everything_once_and_records_it(client: Client) -> None:
    applied = migrate_up(client)
    assert [m.version for m in applied] == [m.version for m in load_migrations()]
    assert migrate_up(client) == []
    assert applied_versions(client) == {m.version for m in applied}


def test_down_then_up_gives_the_same_schema(client: Client) -> None:
    migrate_up(client)
    before = schema(client)
    undone = migrate_down(client, steps=len(load_migrations()))
    assert len(undone) == len(load_migrations())
    assert schema(client).splitlines() == [
        line for line in before.splitlines() if line.startswith("schema_migrations.")
    ]
    migrate_up(client)
    assert schema(client) == before


def test_schema_matches_the_snapshot(client: Client) -> None:
    """A schema change must come with a migration; regenerate with FOOTFALL_UPDATE_SNAPSHOT=1."""
    migrate_up(client)
    current = schema(client)
    if os.environ.get("FOOTFALL_UPDATE_SNAPSHOT") == "1":
        SNAPSHOT.write_text(current)
        pytest.skip(f"regenerated {SNAPSHOT.name}: review its diff and commit it")
    assert SNAPSHOT.exists(), f"no {SNAPSHOT}: run once with FOOTFALL_UPDATE_SNAPSHOT=1"
    assert current == SNAPSHOT.read_text(), (
        "the migrated schema differs from the snapshot: a change needs a migration "
        "(then regenerate with FOOTFALL_UPDATE_SNAPSHOT=1 and commit the snapshot)"
    )


def test_a_badly_named_migration_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "7_oops.sql"
    bad.write_text("-- up\nSELECT 1;\n")
    with pytest.raises(MigrationError, match="NNNN_description"):
        parse_migration(bad)
