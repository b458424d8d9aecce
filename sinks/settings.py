"""Settings of the ClickHouse sink process."""

from __future__ import annotations

from pydantic import AliasChoices, Field, field_validator

from base.config import FootfallSettings
from sinks.retention import Kind, SiteRetention, literal


class SinkSettings(FootfallSettings):
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
    events_ttl_days: int = Field(
        default=0,
        ge=0,
        description="Delete raw events (events, events_by_type, overflow_events) older than "
        "this many days, by occurred_at, for every site not set apart in retention_sites; 0 "
        "keeps them forever. Applied on start.",
    )
    profile_ttl_days: int = Field(
        default=0,
        ge=0,
        description="Delete the stored profiles of customers not seen for this many days (by "
        "last_seen); 0 keeps them forever. Applied on start.",
    )
    dlq_ttl_days: int = Field(
        default=0,
        ge=0,
        description="Delete DLQ rows older than this many days (by received_at); 0 keeps "
        "them forever. Applied on start.",
    )
    webhook_log_ttl_days: int = Field(
        default=0,
        ge=0,
        description="Delete webhook delivery log rows older than this many days (by at); 0 "
        "keeps them forever. Applied on start.",
    )
    retention_sites: dict[str, SiteRetention] = Field(
        default_factory=dict,
        description="Retention per site, site id -> {events_days, inactive_profiles_days, "
        "dlq_days, webhook_log_days} (days, 0: forever; one left out takes the *_ttl_days "
        'default). JSON, e.g. FOOTFALL_RETENTION_SITES=\'{"shop-eu": {"events_days": 90}}\'.',
    )

    @field_validator("retention_sites")
    @classmethod
    def plain_site_ids(cls, sites: dict[str, SiteRetention]) -> dict[str, SiteRetention]:
        for site in sites:
            literal(site)  # a site id a TTL rule can name
        return sites

    def retention_defaults(self) -> dict[Kind, int]:
        """The retention of every site not set apart, per kind of data."""
        return {
            Kind.events: self.events_ttl_days,
            Kind.inactive_profiles: self.profile_ttl_days,
            Kind.dlq: self.dlq_ttl_days,
            Kind.webhook_log: self.webhook_log_ttl_days,
        }
