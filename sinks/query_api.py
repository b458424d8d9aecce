"""Read-only SQL over HTTP, speaking the read subset of ClickHouse's own HTTP interface.

In embedded mode the sink process owns the chDB directory, so this endpoint is how
``footfall sql``, ``curl`` recipes and clickhouse-connect reach the data.
"""

from __future__ import annotations

import asyncio
import base64
import re
import secrets
from collections.abc import Callable

from clickhouse_connect.driver.exceptions import ClickHouseError
from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from sinks.clickhouse import Store
from sinks.settings import SinkSettings

READ_STATEMENT = re.compile(r"^\s*(\(\s*)*(SELECT|WITH|SHOW|DESCRIBE|DESC|EXISTS|EXPLAIN)\b", re.I)
FORMAT_CLAUSE = re.compile(r"\bFORMAT\s+\w+\s*$", re.I)


class QueryRefused(ValueError):
    """The query is not a single read-only statement."""


def guard(query: str, settings: SinkSettings, default_format: str) -> str:
    """The query made safe to run: one read statement, read-only, time and size capped."""
    query = query.strip().rstrip(";").strip()
    if not query:
        raise QueryRefused("empty query")
    if ";" in query:
        raise QueryRefused("only one statement per request")
    if not READ_STATEMENT.match(query):
        raise QueryRefused("only read queries (SELECT, WITH, SHOW, DESCRIBE, EXISTS, EXPLAIN)")
    if not FORMAT_CLAUSE.search(query):
        query = f"{query} FORMAT {default_format}"
    return (
        f"{query} SETTINGS readonly=1, max_execution_time={settings.query_timeout_s}, "
        f"max_result_rows={settings.query_max_result_rows}, result_overflow_mode='throw'"
    )


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


def query_router(settings: SinkSettings, store: Callable[[], Store | None]) -> APIRouter:
    """The endpoint; ``store`` gives the open client, or None while the store is not open."""
    router = APIRouter()

    def authorized(request: Request) -> bool:
        _, key = credentials(request)
        return key is not None and secrets.compare_digest(key, settings.admin_token)

    @router.get("/ping", response_class=PlainTextResponse)
    async def ping() -> str:
        return "Ok.\n"

    @router.api_route("/", methods=["GET", "POST"])
    async def query(request: Request) -> Response:
        if not authorized(request):
            return PlainTextResponse(
                "Code: 516. Authentication failed: wrong admin token.\n", status_code=401
            )
        sql = request.query_params.get("query", "")
        if request.method == "POST":
            body = (await request.body()).decode(errors="replace")
            sql = f"{sql} {body}" if sql else body
        default_format = request.query_params.get("default_format", "TabSeparated")
        parameters = {
            key.removeprefix("param_"): value
            for key, value in request.query_params.items()
            if key.startswith("param_")
        }
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
        try:
            safe = guard(sql, settings, default_format)
            result: bytes = await asyncio.to_thread(
                client.raw_query, safe, parameters=parameters or None
            )
        except QueryRefused as exc:
            return PlainTextResponse(f"Code: 164. {exc} (READONLY)\n", status_code=403)
        except ClickHouseError as exc:
            return PlainTextResponse(f"{exc}\n", status_code=400)
        return Response(result, media_type="text/plain; charset=UTF-8")

    return router
