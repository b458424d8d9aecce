"""Numbered migrations: ``sinks/migrations/NNNN_name.sql`` with ``-- up`` / ``-- down``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from sinks.clickhouse import Store

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations
(
    version UInt32,
    name String,
    applied UInt8,
    at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(at)
ORDER BY version
"""


class MigrationError(RuntimeError):
    """A migration file is malformed or a step failed."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    up: list[str]
    down: list[str]


def split_statements(sql: str) -> list[str]:
    """Statements separated by ``;`` at a line end; ``--`` comment lines are dropped."""
    lines = [line for line in sql.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in re.split(r";\s*$", "\n".join(lines), flags=re.M) if s.strip()]


def parse_migration(path: Path) -> Migration:
    match = re.fullmatch(r"(\d{4})_(\w+)\.sql", path.name)
    if not match:
        raise MigrationError(f"{path.name}: name must be NNNN_description.sql")
    text = path.read_text()
    parts = re.split(r"^--\s*(up|down)\s*$", text, flags=re.M)
    sections = dict(zip(parts[1::2], parts[2::2], strict=True))
    if "up" not in sections:
        raise MigrationError(f"{path.name}: no '-- up' section")
    return Migration(
        version=int(match.group(1)),
        name=match.group(2),
        up=split_statements(sections["up"]),
        down=split_statements(sections.get("down", "")),
    )


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    migrations = [parse_migration(p) for p in sorted(directory.glob("*.sql"))]
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"duplicate migration numbers in {directory}")
    return migrations


def applied_versions(client: Store) -> set[int]:
    client.command(LEDGER)
    rows = client.query(
        "SELECT version, argMax(applied, at) FROM schema_migrations GROUP BY version"
    ).result_rows
    return {int(version) for version, applied in rows if applied}


def pending(client: Store, migrations: list[Migration]) -> list[Migration]:
    done = applied_versions(client)
    return [m for m in migrations if m.version not in done]


def migrate_up(client: Store, target: int | None = None) -> list[Migration]:
    """Apply pending migrations in order (up to ``target``); returns those applied."""
    applied: list[Migration] = []
    for migration in pending(client, load_migrations()):
        if target is not None and migration.version > target:
            break
        for statement in migration.up:
            client.command(statement)
        record(client, migration, applied=True)
        applied.append(migration)
    return applied


def migrate_down(client: Store, steps: int = 1) -> list[Migration]:
    """Undo the last ``steps`` applied migrations, newest first."""
    done = applied_versions(client)
    undone: list[Migration] = []
    for migration in sorted(load_migrations(), key=lambda m: -m.version):
        if len(undone) == steps:
            break
        if migration.version not in done:
            continue
        if not migration.down:
            raise MigrationError(f"migration {migration.version} has no down step")
        for statement in migration.down:
            client.command(statement)
        record(client, migration, applied=False)
        undone.append(migration)
    return undone


def record(client: Store, migration: Migration, applied: bool) -> None:
    client.insert(
        "schema_migrations",
        [[migration.version, migration.name, int(applied)]],
        column_names=["version", "name", "applied"],
    )
