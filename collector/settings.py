"""Settings of the collector process (``FOOTFALL_COLLECTOR_*`` is not used: one flat set).

Sites come from the TOML file named by ``FOOTFALL_CONFIG`` (``[[sites]]`` tables) or from
``FOOTFALL_SITES`` (a JSON list). Keys are kept only as SHA-256 hashes: a config file should
hold ``write_key_sha256`` / ``secret_key_sha256``; a plain ``write_key`` / ``secret_key`` is
accepted for convenience and hashed as soon as it is read, never kept.
"""

from __future__ import annotations

import hashlib
import ipaddress
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, Field, field_validator, model_validator

from base.config import FootfallSettings
from collector.consent import AnalyticsRule
from schemas.personal import PersonalKeys, Protection


def hash_key(key: str) -> str:
    """The at-rest form of a key: hex SHA-256 of its UTF-8 bytes."""
    return hashlib.sha256(key.encode()).hexdigest()


class Site(BaseModel):
    """One shop: its public write key (browser), its secret key (server) and origins."""

    site_id: str = Field(min_length=1, max_length=128)
    write_key_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    secret_key_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    allowed_origins: list[str] = Field(default_factory=list)
    analytics_consent: AnalyticsRule = Field(
        default="assumed",
        description="Events without an analytics signal: 'assumed' keeps them as they are, "
        "'required' stores them anonymized (docs/privacy.md).",
    )
    personal_traits: Protection = Field(
        default="plain",
        description="Personal traits (e-mail, phone, name, address) at rest: 'plain' as sent, "
        "'hash' (HMAC-SHA-256) or 'encrypt' (AES-GCM) with the site's key from "
        "FOOTFALL_PERSONAL_KEYS (docs/privacy.md).",
    )

    @model_validator(mode="before")
    @classmethod
    def hash_plain_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            for kind in ("write_key", "secret_key"):
                plain = data.pop(kind, None)
                if isinstance(plain, str) and f"{kind}_sha256" not in data:
                    data[f"{kind}_sha256"] = hash_key(plain)
        return data


def demo_site(port: int) -> Site:
    """The demo shop's site; its origins are the collector's own address (the shop is served
    at ``/shop``), from the configured port, never from a client's ``Host`` header."""
    return Site.model_validate(
        {
            "site_id": "demo",
            "write_key": "demo-write-key",
            "secret_key": "demo-secret-key",
            "allowed_origins": [f"http://127.0.0.1:{port}", f"http://localhost:{port}"],
        }
    )


DEMO_SITE = demo_site(8000)


class CollectorSettings(FootfallSettings, PersonalKeys):
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
        ge=0,
        le=366 * 24 * 3600.0,
        description="Skew corrections larger than this are ignored (client clock broken).",
    )
    body_timeout_s: float = Field(
        default=10.0, description="A request body not fully received by then gets 408."
    )
    rate_limit_per_key: str = Field(
        default="5000/second", description="Requests per key (limits notation)."
    )
    rate_limit_per_ip: str = Field(
        default="1000/second", description="Requests per client IP (limits notation)."
    )
    flood_threshold: int = Field(
        default=1000,
        description="Events from one anonymous id within flood_window_s beyond which "
        "its events go to the overflow topic.",
    )
    flood_window_s: float = 60.0
    placeholder_ids: list[str] = Field(
        default_factory=lambda: ["", "null", "undefined", "anonymous", "0", "none", "nil"]
    )
    geoip_csv: Path | None = Field(
        default=None,
        description="CSV of IP ranges (start_ip,end_ip,country) for the country lookup.",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses or CIDRs of the reverse proxies whose X-Forwarded-For is "
        "believed; from any other peer the peer address is the client IP.",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def proxies_are_networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            ipaddress.ip_network(entry, strict=False)  # a ValueError names the bad entry
        return value

    @model_validator(mode="after")
    def demo_site_at_own_port(self) -> Self:
        if "sites" not in self.model_fields_set:
            self.sites = [demo_site(self.port)]
        return self

    @model_validator(mode="after")
    def personal_keys_where_asked(self) -> Self:
        for site in self.sites:
            if site.personal_traits != "plain" and site.site_id not in self.personal_keys:
                raise ValueError(
                    f"site {site.site_id} has personal_traits = {site.personal_traits!r} but "
                    'no key: add it to FOOTFALL_PERSONAL_KEYS (\'{"<site>": "<secret>"}\')'
                )
        return self
