"""Shared fixtures: the real local stack on free ports in a temporary directory."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from footfall.brokers import choose_kind
from footfall.config import BrokerKind
from footfall.sqlclient import SqlClient
from footfall.stack import Stack, StackSettings, free_port

TEST_BROKER: BrokerKind = choose_kind(os.environ.get("FOOTFALL_BROKER", "auto"))
"""The broker every test runs on: Apache Kafka where it is installed (FOOTFALL_BROKER=tansu
picks the fallback). Tests of crash exactness run on both through ``any_broker``."""

BOTH_BROKERS = pytest.mark.parametrize("any_broker", [BrokerKind.kafka, BrokerKind.tansu])


def stack_settings_for(tmp: Path, **overrides: object) -> StackSettings:
    """Settings for a private stack: free ports, its own data dir and topic prefix."""
    values: dict[str, object] = {
        "data_dir": tmp,
        "broker": TEST_BROKER.value,
        "broker_port": free_port(),
        "broker_controller_port": free_port(),
        "collector_port": free_port(),
        "worker_port": free_port(),
        "sink_port": free_port(),
        "webhooks_port": free_port(),
        "dashboard_port": free_port(),
        "dashboard": False,
        "start_timeout_s": 60.0,
    }
    return StackSettings(**(values | overrides))  # type: ignore[arg-type]


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    """Broker, sink (embedded ClickHouse), worker and collector, stopped afterwards."""
    with Stack(stack_settings_for(tmp_path)) as running:
        running.start()
        yield running


@pytest.fixture
def sql(stack: Stack) -> Iterator[SqlClient]:
    client = SqlClient(stack.settings.sink_url, stack.settings.admin_token)
    yield client
    client.close()
