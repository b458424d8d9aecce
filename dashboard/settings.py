"""Settings of the dashboard process."""

from __future__ import annotations

from pydantic import Field

from base.config import FootfallSettings


class DashboardSettings(FootfallSettings):
    """Where the dashboard listens and where it reads.

    It holds no token of its own: each visitor's token (the admin token or a site's token)
    travels with every query to the sink's SQL endpoint, which decides what it may read.
    """

    host: str = "127.0.0.1"
    port: int = 8130
    sql_url: str = Field(
        default="http://127.0.0.1:8123",
        description="The sink's read-only SQL endpoint (or a ClickHouse server's HTTP URL).",
    )
    worker_url: str = Field(
        default="http://127.0.0.1:6066", description="A stream worker's web port (live lookup)."
    )
    refresh_s: float = Field(default=5.0, gt=0, description="How often live pages reload.")
    query_timeout_s: float = Field(default=30.0, gt=0)
    answers_ttl_s: float = Field(
        default=2.0,
        gt=0,
        description="How long an answer is reused for the same token and query (charts of a "
        "page that share a query; visitors of a live page).",
    )
