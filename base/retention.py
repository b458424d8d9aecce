"""How long each kind of personal data is kept, per site: the retention settings that the sink
(ClickHouse TTL rules) and the stream worker (its live profiles) both read, so one
``FOOTFALL_PROFILE_TTL_DAYS`` or ``FOOTFALL_RETENTION_SITES`` means the same in every store.

Four kinds of data have a retention: raw events, profiles of inactive customers, DLQ rows and
the webhook delivery log. Each has a default for every site and may be set per site; 0 keeps
them forever. Pure.
"""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Kind(StrEnum):
    events = "events_days"
    inactive_profiles = "inactive_profiles_days"
    dlq = "dlq_days"
    webhook_log = "webhook_log_days"


class SiteRetention(BaseModel):
    """One site's retentions in days (0: forever); a field left out takes the default."""

    model_config = ConfigDict(extra="forbid")

    events_days: int | None = Field(default=None, ge=0)
    inactive_profiles_days: int | None = Field(default=None, ge=0)
    dlq_days: int | None = Field(default=None, ge=0)
    webhook_log_days: int | None = Field(default=None, ge=0)


SITE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def literal(site: str) -> str:
    """A site id as a SQL string; only plain ids are accepted (they name sites in settings)."""
    if not SITE_ID.match(site):
        raise ValueError(f"site id {site!r} in the retention settings is not a plain id")
    return f"'{site}'"


class RetentionSettings(BaseModel):
    """The retention fields of a process's settings (``FOOTFALL_*_TTL_DAYS`` and
    ``FOOTFALL_RETENTION_SITES``)."""

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
        description="Delete the profiles of customers not seen for this many days (by "
        "last_seen): the stored rows (a TTL applied on start) and the worker's live profile "
        "(with a tombstone on the profiles topic, checked every expiry_scan_s); 0 keeps them "
        "forever.",
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

    def ends(self, kind: Kind) -> bool:
        """Whether any site lets go of ``kind`` at all."""
        sites = [self.days(kind, site) for site in self.retention_sites]
        return any(days > 0 for days in [self.retention_defaults()[kind], *sites])

    def days(self, kind: Kind, site_id: str) -> int:
        """How many days ``site_id`` keeps ``kind`` (0: forever)."""
        own = self.retention_sites.get(site_id)
        days = getattr(own, kind.value) if own is not None else None
        return self.retention_defaults()[kind] if days is None else int(days)
