"""Read-only SQL over HTTP, speaking the read subset of ClickHouse's own HTTP interface.

In embedded mode the sink process owns the chDB directory, so this endpoint is how
``footfall sql``, ``curl`` recipes and clickhouse-connect reach the data.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from aiokafka.errors import KafkaError
from clickhouse_connect.driver.exceptions import ClickHouseError
from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import Histogram

from schemas.privacy import AuditRecord
from sinks.clickhouse import Store
from sinks.settings import SinkSettings
from sinks.sql_guard import (
    Limits,
    QueryRefused,
    SiteScope,
    check_canonical,
    check_tree,
    chosen_format,
    chosen_settings,
    precheck,
    statement,
    tables_read,
)

FORMAT_QUERY = "SELECT formatQuery({q:String})"
Audit = Callable[[AuditRecord], Awaitable[None]]
AUDIT_WAIT_S = 5.0
log = logging.getLogger("footfall.sink")
ADMIN = "\0admin"  # not a site id: site ids come from the settings' site_tokens values


def limits_of(settings: SinkSettings) -> Limits:
    return Limits(
        timeout_s=settings.query_timeout_s,
        max_memory_bytes=settings.query_max_memory_bytes,
        max_result_rows=settings.query_max_result_rows,
        max_result_bytes=settings.query_max_result_bytes,
        max_query_bytes=settings.query_max_bytes,
    )


def checked_statement(
    client: Store,
    sql: str,
    parameters: dict[str, str],
    default_format: str | None,
    user_settings: dict[str, str],
    limits: Limits,
    site: str | None = None,
) -> str:
    """The statement to run for ``sql``, judged on the engine's own parse (see sql_guard).

    The query travels to ``formatQuery`` as a bound value, so nothing in it runs; only its
    canonical re-serialisation, proven single and comment-free, is parsed for ``EXPLAIN AST``.
    """
    sql = precheck(sql, limits)
    canonical = str(client.query(FORMAT_QUERY, parameters={"q": sql}).result_rows[0][0])
    body, named_format = check_canonical(canonical)
    tree = client.query(f"EXPLAIN AST {body}", parameters=parameters or None)
    ast_text = "\n".join(str(row[0]) for row in tree.result_rows)
    check_tree(ast_text)
    scope = None
    if site is not None:
        scope = site_scope(client, site)
        scope.check(tables_read(ast_text))
    fmt = named_format or default_format or "TabSeparated"
    return statement(body, fmt, limits, user_settings, scope)


SCOPE_QUERY = """
SELECT t.database || '.' || t.name AS qualified,
       t.database = currentDatabase() AND t.engine != 'MaterializedView'
         AND countIf(c.name = 'site_id') > 0 AS readable
FROM system.tables AS t
LEFT JOIN system.columns AS c ON c.database = t.database AND c.table = t.name
GROUP BY t.database, t.name, t.engine
"""


def normalized(client: Store, sql: str) -> str:
    """The query with every literal replaced by ``?`` (ClickHouse's ``normalizeQuery``)."""
    rows = client.query("SELECT normalizeQuery({q:String})", parameters={"q": sql}).result_rows
    return str(rows[0][0])


def site_scope(client: Store, site: str) -> SiteScope:
    """The tables a site's token may read, as the store holds them now."""
    rows = client.query(SCOPE_QUERY).result_rows
    database = str(client.command("SELECT currentDatabase()"))
    return SiteScope(
        site=site,
        database=database,
        readable=frozenset(str(name) for name, readable in rows if readable),
        tables=frozenset(str(name) for name, _ in rows),
    )


async def body_text(request: Request, limit: int) -> str:
    """The request body as text, read no further than ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise QueryRefused(f"the query is longer than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


def refused(exc: QueryRefused) -> Response:
    return PlainTextResponse(f"Code: 164. {exc} (READONLY)\n", status_code=403)


def credentials(request: Request) -> tuple[str | None, str | None]:
    user = request.headers.get("x-clickhouse-user") or request.query_params.get("user")
    key = request.headers.get("x-clickhouse-key") or request.query_params.get("password")
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("basic "):
        try:
            user, _, key = base64.b64decode(auth[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None, None
    elif auth.lower().startswith("bearer "):
        key = auth[7:].strip()
    return user, key


def database_refusal(client: Store, requested: str) -> str | None:
    """Why ``database`` cannot be served (None when it is the store's own database).

    The store keeps every table in one database; unqualified names resolve there.
    """
    current = str(client.command("SELECT currentDatabase()"))
    if requested == current:
        return None
    return f"Database {requested!r} is not served here: the store's tables are in {current!r}"


def query_router(
    settings: SinkSettings,
    store: Callable[[], Store | None],
    audit: Audit | None = None,
    seconds: Histogram | None = None,
) -> APIRouter:
    """The endpoint; ``store`` gives the open client, or None while the store is not open.
    ``audit`` hears every query a token is allowed to run (its text, never its parameters);
    ``seconds`` (labelled by outcome: ok, refused, error) times each query that reached it."""
    router = APIRouter()
    limits = limits_of(settings)

    async def audited(who: str, sql: str, client: Store) -> None:
        """Audit the query's shape: its literals (a customer id it names) become ``?``, so
        the audit log keeps no personal data an erasure could not find."""
        if audit is None:
            return
        shape = await asyncio.to_thread(normalized, client, sql[: limits.max_query_bytes])
        actor = "admin" if who == ADMIN else f"site token of {who}"
        record = AuditRecord(
            at=datetime.now(UTC),
            actor=actor,
            action="sql.query",
            site_id="" if who == ADMIN else who,
            detail=shape[:4096],
        )
        try:
            await asyncio.wait_for(audit(record), AUDIT_WAIT_S)
        except (TimeoutError, OSError, RuntimeError, KafkaError) as exc:
            log.error("the audit record of a SQL query was not written: %s", exc)

    def access(request: Request) -> str | None:
        """Who asks: ``ADMIN``, a site id (a site's token), or None (no valid token)."""
        _, key = credentials(request)
        if key is None:
            return None
        if secrets.compare_digest(key, settings.admin_token):
            return ADMIN
        for token, site in settings.site_tokens.items():
            if secrets.compare_digest(key, token):
                return site
        return None

    @router.get("/ping", response_class=PlainTextResponse)
    async def ping() -> str:
        return "Ok.\n"

    @router.api_route("/", methods=["GET", "POST"])
    async def query(request: Request) -> Response:
        who = access(request)
        if who is None:
            return PlainTextResponse(
                "Code: 516. Authentication failed: wrong token.\n", status_code=401
            )
        sql = request.query_params.get("query", "")
        if request.method == "POST":
            try:
                body = await body_text(request, limits.max_query_bytes)
            except QueryRefused as exc:
                return PlainTextResponse(f"Code: 164. {exc} (READONLY)\n", status_code=413)
            sql = f"{sql} {body}" if sql else body
        parameters = {
            key.removeprefix("param_"): value
            for key, value in request.query_params.items()
            if key.startswith("param_")
        }
        try:
            default_format = chosen_format(request.query_params.get("default_format"))
            user_settings = chosen_settings(
                {k: v for k, v in request.query_params.items() if not k.startswith("param_")}
            )
        except QueryRefused as exc:
            return refused(exc)
        client = store()
        if client is None:
            return PlainTextResponse(
                "Code: 210. The store is not open yet (see the sink's log); retry shortly.\n",
                status_code=503,
                headers={"Retry-After": "5"},
            )
        requested = request.headers.get("x-clickhouse-database") or request.query_params.get(
            "database"
        )
        if requested:
            refusal = await asyncio.to_thread(database_refusal, client, requested)
            if refusal is not None:
                return PlainTextResponse(f"Code: 81. {refusal} (UNKNOWN_DATABASE)\n", 404)
        await audited(who, sql, client)
        began = time.perf_counter()
        outcome = "error"
        try:
            safe = await asyncio.to_thread(
                checked_statement,
                client,
                sql,
                parameters,
                default_format,
                user_settings,
                limits,
                None if who == ADMIN else who,
            )
            result: bytes = await asyncio.to_thread(
                client.raw_query, safe, parameters=parameters or None
            )
            outcome = "ok"
        except QueryRefused as exc:
            outcome = "refused"
            return refused(exc)
        except ClickHouseError as exc:
            return PlainTextResponse(f"{exc}\n", status_code=400)
        finally:
            if seconds is not None:
                seconds.labels(outcome).observe(time.perf_counter() - began)
        return Response(result, media_type="text/plain; charset=UTF-8")

    return router
