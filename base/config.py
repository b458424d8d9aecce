"""Settings shared by every process: where Kafka is, what the topics are called, which mode.

Each process has one settings class of its own (collector, worker, sink, stack) that
inherits from :class:`FootfallSettings`; values come from ``FOOTFALL_*`` environment variables
and an optional TOML file named by ``FOOTFALL_CONFIG``.

The mode (``FOOTFALL_MODE``) is ``demo`` for the local stack, the demo and the tests, and
``production`` for the deploy manifests (and the image). In production no process starts
with a secret anyone can read in this repository — the demo site's keys, the default admin
token, the placeholders of the Kubernetes Secret — as the FastAPI full-stack template refuses
``changethis``. The check is here, once, for every process: :func:`default_secrets` (pure)
finds them, the settings base refuses them with :class:`DefaultSecretError`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar, Literal
from urllib.parse import unquote, urlsplit

from pydantic import AliasChoices, BaseModel, Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


class BrokerKind(StrEnum):
    """Which broker the processes talk to; only Tansu needs workarounds."""

    kafka = "kafka"
    tansu = "tansu"


class Mode(StrEnum):
    """demo: the known demo secrets work (local stack, demo, tests); production: refused."""

    demo = "demo"
    production = "production"


DEMO_WRITE_KEY = "demo-write-key"
DEMO_SECRET_KEY = "demo-secret-key"
DEFAULT_ADMIN_TOKEN = "footfall-admin"

KNOWN_SECRETS: dict[str, str] = {
    DEMO_WRITE_KEY: "the demo site's public write key",
    DEMO_SECRET_KEY: "the demo site's secret key",
    DEFAULT_ADMIN_TOKEN: "the default admin token",
    "change-me": "the placeholder of deploy/kubernetes/config.yaml",
}
"""Every secret published in this repository, by what it is. Sites keep keys only as
SHA-256 hashes, so a setting matches a known secret in plain text or as its hash."""


def sha256_hex(text: str) -> str:
    """Hex SHA-256 of the UTF-8 bytes: the at-rest form of a site's key."""
    return hashlib.sha256(text.encode()).hexdigest()


KNOWN_BY_VALUE: dict[str, str] = {
    secret: f"{what} {secret!r}" for secret, what in KNOWN_SECRETS.items()
} | {
    sha256_hex(secret): f"{what} {secret!r} as its SHA-256"
    for secret, what in KNOWN_SECRETS.items()
}


@dataclass(frozen=True)
class DefaultSecret:
    """A setting whose value is a published secret: where it is, which variable sets it."""

    path: str
    variable: str
    what: str

    def __str__(self) -> str:
        return f"{self.path} is {self.what}; set {self.variable}"


class DefaultSecretError(ValueError):
    """Production settings hold a secret published in this repository."""

    def __init__(self, found: list[DefaultSecret]) -> None:
        self.found = found
        super().__init__(
            "FOOTFALL_MODE=production refuses the published demo secrets: "
            + "; ".join(str(secret) for secret in found)
            + ". Give each its own value (an admin token: `python -c 'import secrets; "
            "print(secrets.token_urlsafe(32))'`; sites: FOOTFALL_SITES or [[sites]] in the "
            "FOOTFALL_CONFIG file, keys as `write_key_sha256`/`secret_key_sha256`), or run "
            "with FOOTFALL_MODE=demo on a development machine."
        )


def _leaves(value: object, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if isinstance(value, str):
        yield path, value
        if "://" in value:  # a DSN's password: CLICKHOUSE_URL=http://user:change-me@host
            try:
                password = urlsplit(value).password
            except ValueError:
                password = None
            if password:
                yield f"{path} (its password)", unquote(password)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, f"{path}.{key}")
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _leaves(item, f"{path}[{index}]")


def default_secrets(values: dict[str, object], prefix: str = "FOOTFALL_") -> list[DefaultSecret]:
    """Every setting in ``values`` (a settings dump) that holds a published secret. Pure.

    Any string at any depth counts, plain or SHA-256: a site's hashed key, an admin token,
    a SASL password. The variable named is the top-level setting that carries it.
    """
    found = []
    for name, value in values.items():
        for path, text in _leaves(value, name):
            what = KNOWN_BY_VALUE.get(text)
            if what is not None:
                found.append(DefaultSecret(path, f"{prefix}{name.upper()}", what))
    return found


DEFAULT_TOPIC_PREFIX = "footfall."


class Topics(BaseModel):
    """Kafka topic names; every name carries the configurable prefix."""

    prefix: str = DEFAULT_TOPIC_PREFIX

    def name(self, suffix: str) -> str:
        return f"{self.prefix}{suffix}"

    @property
    def events(self) -> str:
        return self.name("events")

    @property
    def dlq(self) -> str:
        return self.name("events.dlq")

    @property
    def overflow(self) -> str:
        return self.name("events.overflow")

    @property
    def identified(self) -> str:
        return self.name("events.identified")

    @property
    def profiles(self) -> str:
        return self.name("profiles")

    @property
    def journey(self) -> str:
        return self.name("journey")

    @property
    def segments(self) -> str:
        return self.name("segments")

    @property
    def webhooks_retry(self) -> str:
        return self.name("webhooks.retry")

    @property
    def webhooks_dlq(self) -> str:
        return self.name("webhooks.dlq")

    @property
    def webhooks_attempts(self) -> str:
        return self.name("webhooks.attempts")

    @property
    def privacy(self) -> str:
        """Erasure requests and the stores' reports (see schemas.privacy)."""
        return self.name("privacy")

    @property
    def audit(self) -> str:
        return self.name("audit")

    def compacted(self) -> frozenset[str]:
        return frozenset({self.profiles})

    def raw(self) -> list[str]:
        """The topics of raw events, as sent (and re-keyed): what raw retention applies to."""
        return [self.events, self.identified, self.overflow, self.dlq]

    def all(self) -> list[str]:
        return [
            self.events,
            self.dlq,
            self.overflow,
            self.identified,
            self.profiles,
            self.journey,
            self.segments,
            self.webhooks_retry,
            self.webhooks_dlq,
            self.webhooks_attempts,
            self.privacy,
            self.audit,
        ]


class HealthSettings(BaseModel):
    """When a process stops being ready (``FOOTFALL_HEALTH__…``)."""

    commit_stall_s: float = Field(
        default=60.0,
        gt=0,
        description="A partition with records to read whose committed offset has not moved "
        "for this long makes its process not ready.",
    )
    max_lag: int = Field(
        default=1_000_000, ge=1, description="A group further behind than this is not ready."
    )
    store_timeout_s: float = Field(
        default=5.0, gt=0, description="Longest a store probe may go unanswered (the sink)."
    )


MS_RENAMED = {"fetch_max_wait_ms": "fetch_max_wait_s", "session_timeout_ms": "session_timeout_s"}
"""Durations once set in milliseconds (``FOOTFALL_FETCH_MAX_WAIT_MS``, …), now in seconds."""


def renamed_durations(values: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """``values`` with a duration given under its former millisecond name (a TOML key or a
    ``FOOTFALL_*_MS`` variable) in seconds under the current name; the current name wins. Pure.
    """
    found = dict(values)
    variables = {name.upper(): value for name, value in environ.items()}
    for old, new in MS_RENAMED.items():
        raw = found.pop(old, variables.get(f"FOOTFALL_{old.upper()}"))
        if raw is not None and new not in found:
            found[new] = float(raw) / 1000
    return found


class FootfallSettings(BaseSettings):
    """Base of every process's settings."""

    model_config = SettingsConfigDict(
        env_prefix="FOOTFALL_", env_nested_delimiter="__", extra="ignore"
    )

    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:19092",
        validation_alias=AliasChoices(
            "KAFKA_BOOTSTRAP_SERVERS", "FOOTFALL_KAFKA_BOOTSTRAP_SERVERS"
        ),
    )
    topic_prefix: str = Field(
        default=DEFAULT_TOPIC_PREFIX,
        description="Starts every topic name; a deployment with its own prefix also gets its "
        "own consumer groups and Faust changelog topics (several can share one cluster).",
    )
    partitions: int = Field(default=4, ge=1, description="Partitions of every topic.")
    raw_topics_retention_days: int = Field(
        default=0,
        ge=0,
        description="retention.ms of the raw event topics (events, identified, overflow, DLQ) "
        "in days, set when topics are created or found with another; 0 leaves the broker's "
        "(7 days by default). One value for every site: at most the shortest retention "
        "promised to any site.",
    )
    broker_kind: BrokerKind = Field(
        default=BrokerKind.kafka,
        description="kafka: Apache Kafka or any compatible cluster (idempotent producers, "
        "normal batching); tansu: the local fallback broker (no idempotence, one-record "
        "batches for the stream worker, whose high watermark is wrong otherwise).",
    )

    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT", description="How every client of every process talks to Kafka."
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "PLAIN"
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = Field(
        default=None, description="CA bundle to verify the brokers (default: the system's)."
    )
    kafka_ssl_certfile: Path | None = Field(default=None, description="Client certificate (mTLS).")
    kafka_ssl_keyfile: Path | None = None
    mode: Mode = Field(
        default=Mode.demo,
        description="demo: the local stack, demo and tests, the repository's demo secrets "
        "work; production (set by the deploy manifests and the image): a process refuses "
        "to start with any of them.",
    )
    log_format: Literal["json", "text"] = Field(
        default="json",
        description="json: one JSON object per line (for a log pipeline); text: for a person "
        "(footfall up).",
    )
    health: HealthSettings = Field(
        default_factory=HealthSettings, description="When a process reports itself not ready."
    )
    fetch_max_wait_s: float = Field(
        default=0.1,
        gt=0,
        description="Longest wait of a consumer fetch, in every process: bounds the latency "
        "each hop adds when the broker holds a fetch until the wait is over (the local one "
        "does). FOOTFALL_FETCH_MAX_WAIT_MS (milliseconds) is still read.",
    )
    session_timeout_s: float = Field(
        default=10.0,
        ge=1,
        description="Consumer group session timeout, in every process: a consumer silent this "
        "long is dropped from its group and its partitions move. FOOTFALL_SESSION_TIMEOUT_MS "
        "(milliseconds) is still read.",
    )

    group_fields: ClassVar[tuple[str, ...]] = ()
    """Fields naming this process's consumer groups (or Faust app id)."""

    @model_validator(mode="before")
    @classmethod
    def read_renamed_durations(cls, data: Any) -> Any:
        """The former millisecond settings keep working (see :func:`renamed_durations`)."""
        if not isinstance(data, Mapping):
            return data
        return renamed_durations(data, os.environ)

    @model_validator(mode="after")
    def scope_groups(self) -> FootfallSettings:
        """Groups named by default carry a non-default topic prefix: two deployments on one
        cluster never share offsets or changelog topics. A name set explicitly is kept."""
        if self.topic_prefix != DEFAULT_TOPIC_PREFIX:
            for name in self.group_fields:
                if name not in self.model_fields_set:
                    setattr(self, name, f"{self.topic_prefix}{getattr(self, name)}")
        return self

    @model_validator(mode="after")
    def refuse_default_secrets(self) -> FootfallSettings:
        """Outside demo mode, a published secret stops the process before it serves."""
        if self.mode is Mode.production:
            found = default_secrets(self.model_dump())
            if found:
                raise DefaultSecretError(found)
        return self

    @property
    def topics(self) -> Topics:
        return Topics(prefix=self.topic_prefix)

    @property
    def kafka_uses_sasl(self) -> bool:
        return self.kafka_security_protocol.startswith("SASL")

    @property
    def kafka_uses_tls(self) -> bool:
        return self.kafka_security_protocol.endswith("SSL")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("FOOTFALL_CONFIG")
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, Path(config_file)))
        return tuple(sources)
