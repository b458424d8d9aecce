"""The same migrations and cookbook queries against a ClickHouse server.

Runs only when ``CLICKHOUSE_URL`` points at a server (``http://user:pass@host:8123/db``);
the database it names is emptied first, so point it at a throw-away database.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from clickhouse_connect.driver.client import Client

from base.cookbook import recipes
from sinks.clickhouse import connect, is_embedded
from sinks.migrate import applied_versions, load_migrations, migrate_down, migrate_up

SERVER_URL = os.environ.get("CLICKHOUSE_URL", "")

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not SERVER_URL or is_embedded(SERVER_URL),
        reason="set CLICKHOUSE_URL=http://user:pass@host:8123/<scratch db> to run against a server",
    ),
]


def drop_all(client: Client) -> None:
    for (name,) in client.query("SHOW TABLES").result_rows:
        client.command(f"DROP TABLE IF EXISTS `{name}`")


@pytest.fixture
def server() -> Iterator[Client]:
    client = connect(SERVER_URL)
    drop_all(client)
    yield client
    drop_all(client)
    client.close()


def placeholder(kind: str) -> str:
    return "x" if kind == "String" else "1"


@pytest.mark.timeout(120)
class TestServerMode:
    def test_migrations_up_and_down(self, server: Client) -> None:
        versions = {m.version for m in load_migrations()}
        migrate_up(server)
        assert applied_versions(server) == versions
        migrate_down(server, len(versions))
        assert applied_versions(server) == set()
        migrate_up(server)
        assert applied_versions(server) == versions

    def test_every_cookbook_query_runs(self, server: Client) -> None:
        migrate_up(server)
        for recipe in recipes().values():
            given = {p.name: placeholder(p.type) for p in recipe.params if p.default is None}
            result = server.query(recipe.sql, parameters=recipe.arguments(given))
            assert isinstance(result.result_rows, list), recipe.name
