"""Settings of the stream worker process."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from base.config import BrokerKind, FootfallSettings
from base.retention import RetentionSettings
from stream_processors.journey import JourneyRules
from stream_processors.money import load_money
from stream_processors.rules import ProfileRules
from stream_processors.segments import DEFAULT_CONFIG


class WorkerSettings(FootfallSettings, RetentionSettings):
    app_id: str = "footfall-worker"
    group_fields = ("app_id",)
    data_dir: Path = Path(".footfall/worker")
    store: str = Field(default="rocksdb://", description="Table store: rocksdb:// or memory://")
    log_level: str = Field(
        default="WARNING", description="Worker log level (INFO shows rebalances)."
    )
    web_host: str = "127.0.0.1"
    web_port: int = 6066
    heartbeat_interval_s: float = 2.0
    rebalance_timeout_s: float = 20.0
    commit_interval_s: float = 1.0
    live_cache_size: int = Field(
        default=100_000, ge=1, description="Profiles (and browsers) kept live in memory."
    )
    batch_max_messages: int = Field(
        default=1000,
        ge=1,
        description="Messages the profile agent folds in one micro-batch at most.",
    )
    batch_within_s: float = Field(
        default=0.02,
        gt=0,
        description="How long a micro-batch waits for more messages: the latency it adds "
        "at low rates.",
    )
    one_record_batches: bool | None = Field(
        default=None,
        description="Send one record per producer batch (works around Tansu's "
        "high-watermark bug). Defaults to on with Tansu only.",
    )

    journey: JourneyRules = Field(default_factory=JourneyRules)
    segments_file: Path = Field(default=DEFAULT_CONFIG, description="Segment rules (TOML).")
    timer_interval_s: float = Field(default=5.0, gt=0, description="How often timers are scanned.")
    clock_offset_s: float = Field(
        default=0.0, description="Added to the wall clock for timers (simulated time in tests)."
    )

    snapshot_interval_s: float = Field(
        default=1.0, ge=0, description="At most one profile snapshot per profile per interval."
    )
    dlq_max_consecutive: int = Field(
        default=100, ge=1, description="Messages rejected in a row that stop the worker."
    )
    dlq_max_ratio: float = Field(
        default=0.05,
        gt=0,
        le=1,
        description="Share of rejected messages among the last 1,000 that stops the worker.",
    )
    rules: ProfileRules = Field(
        default_factory=ProfileRules,
        description="Decay, RFM bands and category medians (FOOTFALL_RULES as JSON).",
    )

    money_file: Path | None = Field(
        default=None,
        description="Base currency per site and conversion rates (TOML, see "
        "deploy/money.example.toml). Unset: every site is in EUR and nothing is converted.",
    )

    expiry_scan_s: float = Field(
        default=3600.0,
        gt=0,
        description="How often the worker looks for live profiles inactive past their site's "
        "profile retention (profile_ttl_days, retention_sites) to remove them.",
    )

    def profile_rules(self) -> ProfileRules:
        """The rules, with the money file read in: called once, at start-up, so that a bad
        file stops the worker there (``MoneyFileError`` names the file and the fault)."""
        if self.money_file is None:
            return self.rules
        return self.rules.model_copy(update={"money": load_money(self.money_file)})

    @property
    def producer_batch_limit(self) -> int:
        one = self.one_record_batches
        if one is None:
            one = self.broker_kind is BrokerKind.tansu
        return 1 if one else 16384
