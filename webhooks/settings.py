"""Settings of the webhook dispatcher process (``python -m webhooks``).

Process-wide values come from ``FOOTFALL_*`` variables (``FOOTFALL_PORT``,
``FOOTFALL_ADMIN_TOKEN``, ``FOOTFALL_DATA_DIR``); the delivery policy is the nested
``webhooks`` table: ``FOOTFALL_WEBHOOKS__MAX_ATTEMPTS=8`` or ``[webhooks]`` in the TOML file
named by ``FOOTFALL_CONFIG``.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from base.config import DEFAULT_ADMIN_TOKEN, FootfallSettings
from schemas.personal import PersonalKeys


class DeliveryPolicy(BaseModel):
    """How deliveries are attempted, retried, limited and given up."""

    subscriptions_file: Path | None = Field(
        default=None, description="TOML file of [[subscription]] tables; default <data_dir>."
    )
    timeout_s: float = Field(default=10.0, gt=0, description="Whole attempt, connect to body.")
    connect_timeout_s: float = Field(default=3.0, gt=0)
    max_attempts: int = Field(default=12, ge=1)
    backoff_base_s: float = Field(default=30.0, gt=0, description="Delay before attempt 2.")
    backoff_max_s: float = Field(default=6 * 3600.0, gt=0, description="Longest single delay.")
    jitter: float = Field(default=0.5, ge=0, le=1, description="Share of a delay made random.")
    retry_after_max_s: float = Field(default=24 * 3600.0, gt=0)
    response_max_bytes: int = Field(default=64 * 1024, ge=0)
    endpoint_concurrency: int = Field(default=4, ge=1, description="In-flight per endpoint.")
    endpoint_wait_s: float = Field(
        default=5.0,
        gt=0,
        description="Longest wait for a slot before deferring to the retry topic.",
    )
    max_in_flight: int = Field(
        default=1000, ge=1, description="Deliveries held per reader before it pauses its input."
    )
    disable_after_failures: int = Field(default=50, ge=1, description="Consecutive failures …")
    disable_after_s: float = Field(default=24 * 3600.0, ge=0, description="… over this long.")
    allow_networks: list[str] = Field(
        default_factory=list,
        description="CIDRs allowed although private/loopback (e.g. a local test receiver).",
    )
    low_rating_max: int = Field(default=2, ge=1, le=5, description="review.low_rating at or below.")
    outbox_retention_days: float = Field(default=7.0, gt=0, description="Kept for range replay.")
    commit_interval_s: float = Field(default=1.0, gt=0)


class WebhookSettings(FootfallSettings, PersonalKeys):
    host: str = "127.0.0.1"
    port: int = 8125
    admin_token: str = DEFAULT_ADMIN_TOKEN
    data_dir: Path = Path(".footfall/webhooks")
    group_id: str = "footfall-webhooks"
    group_fields = ("group_id",)
    webhooks: DeliveryPolicy = DeliveryPolicy()

    @property
    def retry_group_id(self) -> str:
        """The retry reader's group: its own offsets, so retries never hold the input back."""
        return f"{self.group_id}-retry"

    @property
    def subscriptions_path(self) -> Path:
        return self.webhooks.subscriptions_file or self.data_dir / "subscriptions.toml"

    @property
    def state_path(self) -> Path:
        return self.data_dir / "state.sqlite"
