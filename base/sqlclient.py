"""Reading SQL results: from the sink's endpoint (embedded store) or a ClickHouse server."""

from __future__ import annotations

from typing import Any

import httpx
import orjson


class QueryError(RuntimeError):
    """ClickHouse refused the query; the message is ClickHouse's own."""


class EndpointUnreachable(ConnectionError):
    """Nothing answers at the SQL endpoint (no stack running, wrong URL, server down)."""


class SqlClient:
    """Runs read queries against ``url``: the sink's endpoint or a ClickHouse server URL.

    Both speak ClickHouse's HTTP interface, so one client serves both.
    """

    def __init__(
        self,
        url: str,
        token: str | None = None,
        timeout: float = 60.0,
        http: httpx.Client | None = None,
    ) -> None:
        """``http``: a client (and its connections) shared with others, which :meth:`close`
        leaves open; making one costs about 50 ms (its TLS context), too much per request."""
        self.url = url.rstrip("/")
        self.headers = {"X-ClickHouse-Key": token} if token else {}
        self.timeout = timeout
        self.owned = http is None
        self.http = http if http is not None else httpx.Client()

    def raw(
        self, sql: str, fmt: str = "TabSeparatedWithNames", params: dict[str, str] | None = None
    ) -> bytes:
        """Run ``sql``; ``params`` bind ClickHouse ``{name:Type}`` placeholders server-side."""
        query = {"default_format": fmt} | {f"param_{k}": v for k, v in (params or {}).items()}
        try:
            response = self.http.post(
                f"{self.url}/",
                params=query,
                content=sql.encode(),
                headers=self.headers,
                timeout=self.timeout,
            )
        except httpx.TransportError as exc:
            raise EndpointUnreachable(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code != 200:
            raise QueryError(response.text.strip())
        return response.content

    def rows(self, sql: str, params: dict[str, str] | None = None) -> list[dict[str, Any]]:
        body = self.raw(sql, "JSONEachRow", params)
        return [orjson.loads(line) for line in body.splitlines() if line.strip()]

    def scalar(self, sql: str) -> Any:
        rows = self.rows(sql)
        return next(iter(rows[0].values())) if rows else None

    def close(self) -> None:
        if self.owned:
            self.http.close()
