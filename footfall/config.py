"""Settings shared by every process: where Kafka is and what the topics are called.

Each process has one settings class of its own (collector, worker, sink, stack) that
inherits from :class:`KafkaSettings`; values come from ``FOOTFALL_*`` environment variables
and an optional TOML file named by ``FOOTFALL_CONFIG``.
"""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, Field, SecretStr
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


class Topics(BaseModel):
    """Kafka topic names; every name carries the configurable prefix."""

    prefix: str = "footfall."

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

    def compacted(self) -> frozenset[str]:
        return frozenset({self.profiles})

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
        ]


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
    topic_prefix: str = "footfall."
    partitions: int = Field(default=4, ge=1, description="Partitions of every topic.")
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


def env_for(settings: BaseSettings, prefix: str = "FOOTFALL_") -> dict[str, str]:
    """Environment variables that reproduce ``settings`` in a child process."""
    env: dict[str, str] = {}
    for name, value in settings.model_dump().items():
        env[f"{prefix}{name.upper()}"] = _env_value(value)
    return env


def _env_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        import json

        return json.dumps(value)
    return str(value)
