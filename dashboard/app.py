"""The dashboard: pages of charts over the sink's read-only SQL endpoint.

It never opens the store: every query goes to the SQL endpoint (the read path of
``footfall sql``) with the visitor's own token, so the admin token reads every site and a
site's token only its own rows, as the endpoint enforces. The one customer page also asks a
stream worker's live lookup, for a profile the token was allowed to read.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import httpx
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

from base.sqlclient import EndpointUnreachable, QueryError, SqlClient
from dashboard.answers import Answers, KeptSql
from dashboard.catalog import ALL_SEGMENTS, PAGES, Page, page
from dashboard.reading import read_chart, read_page, read_rows
from dashboard.settings import DashboardSettings

STATIC = Path(__file__).parent / "static"
ECHARTS = Path(__file__).parent / "node_modules" / "echarts" / "dist" / "echarts.min.js"
COOKIE = "footfall_dashboard"
AUTH_FAILED = "Code: 516"


class DashboardError(RuntimeError):
    """The dashboard cannot start (its chart library is missing)."""


class Login(BaseModel):
    token: str


def echarts_file() -> Path:
    if not ECHARTS.exists():
        raise DashboardError(
            f"the chart library is not installed ({ECHARTS} is missing): run "
            "deploy/local/install.sh, or `npm ci --prefix dashboard`"
        )
    return ECHARTS


def token_of(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    return request.cookies.get(COOKIE)


def client_for(request: Request, token: str) -> SqlClient:
    """The visitor's client, on the app's one pool of connections to the SQL endpoint."""
    settings: DashboardSettings = request.app.state.settings
    return SqlClient(
        settings.sql_url, token, timeout=settings.query_timeout_s, http=request.app.state.http
    )


def visitor_sql(request: Request) -> Iterator[KeptSql]:
    """A SQL client speaking with the visitor's token (401 without one)."""
    token = token_of(request)
    if token is None:
        raise HTTPException(401, "sign in with the admin token or your site's token")
    client = client_for(request, token)
    try:
        yield KeptSql(client, token, request.app.state.answers)
    finally:
        client.close()


Sql = Annotated[KeptSql, Depends(visitor_sql)]
Site = Annotated[str, Query(min_length=1, max_length=200)]
From = Annotated[str | None, Query(alias="from")]
To = Annotated[str | None, Query(alias="to")]
Segment = Annotated[str, Query(max_length=200)]


def page_filters(
    site: Site, since: From = None, until: To = None, segment: Segment = ALL_SEGMENTS
) -> dict[str, str]:
    """The page filters as query parameters (a missing end of the period: the query's default)."""
    given = {"site": site, "segment": segment or ALL_SEGMENTS}
    if since:
        given["from"] = since
    if until:
        given["to"] = until
    return given


Filters = Annotated[dict[str, str], Depends(page_filters)]


def page_of(page_id: str) -> Page:
    try:
        return page(page_id)
    except KeyError:
        raise HTTPException(404, f"no page {page_id!r}") from None


def create_app(settings: DashboardSettings | None = None) -> FastAPI:
    settings = settings or DashboardSettings()
    echarts = echarts_file()
    http = httpx.Client()  # one pool of connections to the SQL endpoint, for every visitor

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            http.close()

    app = FastAPI(title="Footfall dashboard", docs_url=None, redoc_url=None, lifespan=lifespan)
    app.state.settings = settings
    app.state.answers = Answers(settings.answers_ttl_s)
    app.state.http = http

    @app.exception_handler(QueryError)
    async def query_refused(request: Request, exc: QueryError) -> JSONResponse:
        if AUTH_FAILED in str(exc):
            return JSONResponse({"detail": "the token was refused: sign in again"}, 401)
        return JSONResponse({"detail": f"ClickHouse refused the query: {exc}"}, 400)

    @app.exception_handler(EndpointUnreachable)
    async def unreachable(request: Request, exc: EndpointUnreachable) -> JSONResponse:
        return JSONResponse(
            {
                "detail": f"no SQL endpoint answers at {settings.sql_url} ({exc}): start the "
                "stack with `footfall up`, or point FOOTFALL_SQL_URL at the sink"
            },
            503,
        )

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.get("/static/echarts.min.js", include_in_schema=False)
    async def chart_library() -> FileResponse:
        return FileResponse(echarts, media_type="text/javascript")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/api/login")
    def login(body: Login, request: Request) -> Response:
        """Check the token with the SQL endpoint; keep it in an HttpOnly cookie."""
        client = client_for(request, body.token)
        try:
            client.scalar("SELECT 1")
        finally:
            client.close()
        response = JSONResponse({"signed_in": True})
        response.set_cookie(COOKIE, body.token, httponly=True, samesite="strict")
        return response

    @app.post("/api/logout")
    async def logout() -> Response:
        response = JSONResponse({"signed_in": False})
        response.delete_cookie(COOKIE)
        return response

    @app.get("/api/meta")
    def meta(sql: Sql) -> dict[str, Any]:
        """The pages, the sites this token reads, each site's segments and event period."""
        sites = read_rows(sql, "sites", {})
        return {
            "pages": [
                {"id": p.id, "title": p.title, "live": p.live, "charts": [c.id for c in p.charts]}
                for p in PAGES
            ],
            "sites": sites,
            "refresh_s": settings.refresh_s,
        }

    @app.get("/api/chart/{page_id}/{chart_id}")
    def chart(
        page_id: str,
        chart_id: str,
        sql: Sql,
        filters: Filters,
        profile: str | None = None,
    ) -> list[dict[str, Any]]:
        found = page_of(page_id)
        try:
            wanted = found.chart(chart_id)
        except KeyError:
            raise HTTPException(404, f"no chart {chart_id!r} on {page_id}") from None
        extra = {"profile": profile} if profile is not None else {}
        return [d.as_json() for d in read_chart(sql, wanted, filters, **extra)]

    @app.get("/api/page/{page_id}")
    def whole_page(
        page_id: str,
        sql: Sql,
        filters: Filters,
        profile: str | None = None,
    ) -> list[dict[str, Any]]:
        extra = {"profile": profile} if profile is not None else {}
        return [d.as_json() for d in read_page(sql, page_of(page_id), filters, **extra)]

    @app.get("/api/csv/{page_id}/{chart_id}")
    def csv(
        page_id: str,
        chart_id: str,
        sql: Sql,
        filters: Filters,
    ) -> Response:
        """A chart's rows as CSV, every row (a table's on-page limit lifted)."""
        wanted = page_of(page_id).chart(chart_id)
        taken = {p.name for p in wanted.recipe.params}
        unlimited = {"limit": "1000000"} if "limit" in taken else {}
        body = sql.sql.raw(
            wanted.recipe.sql, "CSVWithNames", wanted.arguments(filters, **unlimited)
        )
        name = f"{filters['site']}-{page_id}-{chart_id}.csv"
        return Response(
            body,
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    @app.get("/api/live/{site}/{profile}")
    def live(site: str, profile: str, sql: Sql) -> Any:
        """The worker's live view of a profile this token may read (404 otherwise)."""
        allowed = read_rows(sql, "customer_profile", {"site": site}, profile=profile)
        if not allowed:
            raise HTTPException(404, f"no profile {profile!r} on site {site!r} for this token")
        try:
            answer = httpx.get(f"{settings.worker_url}/profiles/{site}/{profile}", timeout=10)
        except httpx.TransportError as exc:
            raise HTTPException(503, f"no worker answers at {settings.worker_url}: {exc}") from exc
        if answer.status_code != 200:
            raise HTTPException(answer.status_code, answer.text)
        return answer.json()

    return app
