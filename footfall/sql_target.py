"""Which SQL endpoint a ``footfall`` command reads: an explicit URL, a ClickHouse server, or the
sink's read-only endpoint of the local stack.

One place for the choice, so ``footfall sql``, ``footfall segments`` and ``footfall demo`` agree
on it (a ClickHouse server DSN carries its user, key and database as headers)."""

from __future__ import annotations

from urllib.parse import urlparse

from base.sqlclient import SqlClient
from footfall.stack import StackSettings


def sql_client(settings: StackSettings, url: str | None = None) -> SqlClient:
    """The client for ``url`` when given, else the stack's ClickHouse server or sink endpoint."""
    if url:
        return SqlClient(url, settings.admin_token)
    if settings.clickhouse_url and not settings.clickhouse_url.startswith("chdb:"):
        return server_client(settings.clickhouse_url)
    return SqlClient(settings.sink_url, settings.admin_token)


def server_client(dsn: str) -> SqlClient:
    parsed = urlparse(dsn)
    netloc = parsed.netloc.rsplit("@", 1)[-1]
    client = SqlClient(f"{parsed.scheme}://{netloc}")
    if parsed.username:
        client.http.headers["X-ClickHouse-User"] = parsed.username
        client.http.headers["X-ClickHouse-Key"] = parsed.password or ""
    if parsed.path.strip("/"):
        client.http.headers["X-ClickHouse-Database"] = parsed.path.strip("/")
    return client
