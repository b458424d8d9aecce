"""Settings of the ClickHouse sink process."""

from __future__ import annotations

from pydantic import AliasChoices, Field

from base.config import FootfallSettings
from base.retention import RetentionSettings


class SinkSettings(FootfallSettings, RetentionSettings):
    clickhouse_url: str = Field(
        default="chdb://.footfall/clickhouse",
        validation_alias=AliasChoices("CLICKHOUSE_URL", "FOOTFALL_CLICKHOUSE_URL"),
        description="chdb:///abs/dir (embedded), chdb://memory, or http://user:pass@host:8123/db",
    )
    group_id: str = "footfall-clickhouse-sink"
    group_fields = ("group_id",)
    batch_max_rows: int = Field(default=5000, ge=1, description="Most records one poll takes.")
    batch_max_wait_s: float = Field(default=0.5, gt=0)
    insert_max_rows: int = Field(
        default=50_000,
        ge=1,
        description="Most rows one insert gathers while the previous one is being stored.",
    )
    dedup_window_keys: int = Field(
        default=2_000_000,
        ge=2,
        description="Events the sink remembers (a short hash each, about 60 bytes) to catch "
        "the same event at a new offset without a query; the oldest half is dropped when full.",
    )
    dedup_window_hours: int = Field(
        default=1,
        ge=0,
        description="On start, remember the events stored in this many hours (at most "
        "dedup_window_keys of them), before consuming: the longer, the slower a start.",
    )
    host: str = "127.0.0.1"
    port: int = 8123
    admin_token: str = Field(
        default="footfall-admin", description="Password for the read-only SQL endpoint."
    )
    site_tokens: dict[str, str] = Field(
        default_factory=dict,
        description="SQL endpoint tokens of sites' analysts, token -> site id: such a token "
        "reads only its site's rows, of the tables that carry site_id.",
    )
    query_timeout_s: int = Field(default=30, ge=1)
    query_max_result_rows: int = Field(default=1_000_000, ge=1)
    query_max_result_bytes: int = Field(
        default=512 * 1024 * 1024, ge=1, description="Most bytes one SQL endpoint answer holds."
    )
    query_max_memory_bytes: int = Field(
        default=1024 * 1024 * 1024,
        ge=1,
        description="Most memory one SQL endpoint query may take in the engine.",
    )
    query_max_bytes: int = Field(
        default=256 * 1024, ge=1, description="Longest SQL text the endpoint parses."
    )
    retry_max_backoff_s: float = 30.0
    erasure_with_dispatcher: bool = Field(
        default=True,
        description="An erasure is done only once the webhook dispatcher confirmed its part "
        "too; false where no dispatcher runs.",
    )
