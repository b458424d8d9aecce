"""Settings of the collector process (``FOOTFALL_COLLECTOR_*`` is not used: one flat set)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from footfall.config import FootfallSettings


class Site(BaseModel):
    """One shop: its public write key (browser), its secret key (server) and origins."""

    site_id: str
    write_key: str
    secret_key: str
    allowed_origins: list[str] = Field(default_factory=list)


DEMO_SITE = Site(
    site_id="demo",
    write_key="demo-write-key",
    secret_key="demo-secret-key",
    allowed_origins=["http://127.0.0.1:8000", "http://localhost:8000"],
)


class CollectorSettings(FootfallSettings):
    host: str = "127.0.0.1"
    port: int = 8000
    sites: list[Site] = Field(default_factory=lambda: [DEMO_SITE])
    max_batch_events: int = Field(default=500, ge=1)
    max_body_bytes: int = Field(default=512 * 1024, ge=1024)
    max_extra_fields: int = 32
    produce_timeout_s: float = Field(
        default=5.0, description="Deadline for Kafka to acknowledge a batch."
    )
    retry_after_s: int = Field(default=5, description="Retry-After sent with a 503.")
    dedup_window: int = Field(
        default=100_000, description="Recent event ids remembered to drop duplicates."
    )
    max_clock_skew_s: float = Field(
        default=7 * 24 * 3600.0,
        description="Skew corrections larger than this are ignored (client clock broken).",
    )
