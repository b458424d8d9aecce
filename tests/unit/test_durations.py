"""One shape per duration: the consumer fetch wait and the group session timeout are one
field each, in seconds, in the settings every process inherits, and become milliseconds only
where a Kafka client takes them; the former millisecond variables still work."""

from __future__ import annotations

from pathlib import Path

import pytest

from base.config import FootfallSettings
from base.kafka import consumer_timing
from collector.settings import CollectorSettings
from dashboard.settings import DashboardSettings
from footfall.stack import StackSettings
from sinks.settings import SinkSettings
from stream_processors.settings import WorkerSettings
from webhooks.settings import WebhookSettings

PROCESSES: list[type[FootfallSettings]] = [
    WorkerSettings,
    SinkSettings,
    WebhookSettings,
    CollectorSettings,
    DashboardSettings,
    StackSettings,
]


def duration_fields(cls: type[FootfallSettings]) -> set[str]:
    return {name for name in cls.model_fields if "fetch" in name or "session_timeout" in name}


@pytest.mark.parametrize("cls", PROCESSES, ids=lambda cls: cls.__name__)
def test_each_process_reads_the_one_field_of_each_duration(cls: type[FootfallSettings]) -> None:
    assert duration_fields(cls) == {"fetch_max_wait_s", "session_timeout_s"}
    assert not [name for name in cls.model_fields if name.endswith("_ms")]
    declared = {name for klass in cls.__mro__[: cls.__mro__.index(FootfallSettings)]
                for name in vars(klass).get("__annotations__", {})}  # fmt: skip
    assert not declared & {"fetch_max_wait_s", "session_timeout_s"}  # only the base's


def test_seconds_become_milliseconds_at_the_client() -> None:
    settings = SinkSettings(fetch_max_wait_s=0.25, session_timeout_s=6)
    assert consumer_timing(settings) == {
        "fetch_max_wait_ms": 250,
        "session_timeout_ms": 6000,
        "heartbeat_interval_ms": 1200,
    }


@pytest.mark.parametrize("cls", [WorkerSettings, SinkSettings, WebhookSettings])
def test_the_former_millisecond_variables_still_work(
    cls: type[FootfallSettings], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FOOTFALL_FETCH_MAX_WAIT_MS", "250")
    monkeypatch.setenv("FOOTFALL_SESSION_TIMEOUT_MS", "6000")
    settings = cls()
    assert (settings.fetch_max_wait_s, settings.session_timeout_s) == (0.25, 6.0)
    monkeypatch.setenv("FOOTFALL_FETCH_MAX_WAIT_S", "0.05")  # the current name wins
    assert cls().fetch_max_wait_s == 0.05


def test_a_former_millisecond_key_in_the_config_file_still_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "footfall.toml"
    config.write_text("fetch_max_wait_ms = 40\n")
    monkeypatch.setenv("FOOTFALL_CONFIG", str(config))
    assert WebhookSettings().fetch_max_wait_s == 0.04
