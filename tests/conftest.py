"""Shared fixtures: the real local stack on free ports in a temporary directory."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from base.config import BrokerKind
from base.sqlclient import SqlClient
from footfall.brokers import BrokerProcess, choose_kind, start_broker
from footfall.stack import Stack, StackSettings, free_port

# Property tests judge what a function returns, never how long it takes: Hypothesis's default
# 200 ms deadline per example fails them on a loaded machine (a timed assertion in disguise).
hypothesis_settings.register_profile("footfall", deadline=None)
hypothesis_settings.load_profile("footfall")

TEST_BROKER: BrokerKind = choose_kind(os.environ.get("FOOTFALL_BROKER", "auto"))
"""The broker every test runs on: Apache Kafka where it is installed (FOOTFALL_BROKER=tansu
picks the fallback). Tests of crash exactness run on both through ``any_broker``."""

BOTH_BROKERS = pytest.mark.parametrize("any_broker", [BrokerKind.kafka, BrokerKind.tansu])


class SharedBroker:
    """One broker of ``TEST_BROKER``'s kind for every stack that never stops its broker.

    Each stack on it has its own topic prefix, and so its own consumer groups and Faust
    changelog topics (``FootfallSettings.scope_groups``): stacks share nothing but the
    process, which saves a broker start and stop per stack. Started on first use, stopped
    when the session ends (``pytest_sessionfinish``)."""

    running: BrokerProcess | None = None
    home: Path | None = None

    @classmethod
    def bootstrap(cls) -> str:
        if (
            cls.running is None
            or cls.running.process is None
            or cls.running.process.poll() is not None
        ):
            cls.home = Path(tempfile.mkdtemp(prefix="footfall-shared-broker-"))
            cls.running = start_broker(TEST_BROKER, cls.home)
        return cls.running.bootstrap

    @classmethod
    def stop(cls) -> None:
        if cls.running is not None:
            cls.running.kill()  # its state is thrown away with it
            cls.running = None
        if cls.home is not None:
            shutil.rmtree(cls.home, ignore_errors=True)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    SharedBroker.stop()


SLOWEST_FIRST = (
    "tests/processors/test_exactness_stack.py",
    "tests/integration/test_restart.py",
    "tests/integration/test_ground_truth.py",
    "tests/integration/test_crash_recovery.py",
    "tests/integration/test_broker_crash.py",
    "tests/journey/test_journey_stack.py",
    "tests/integration/test_end_to_end.py",
    "tests/browser/test_dashboard.py",
    "tests/integration/test_lag.py",
    "tests/processors/test_poison_stack.py",
)
"""The files that take longest (``--durations`` of CI runs), started first: the two xdist
workers take files in this order (``--no-loadscope-reorder``), so neither ends the run
alone on a long one."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = item.nodeid.split("::", 1)[0]
        return SLOWEST_FIRST.index(path) if path in SLOWEST_FIRST else len(SLOWEST_FIRST)

    items.sort(key=rank)  # stable: the order inside a file and among the others stays


def stack_settings_for(tmp: Path, own_broker: bool = False, **overrides: object) -> StackSettings:
    """Settings for a private stack: free ports, its own data dir and topic prefix.

    The stack runs on the session's shared broker unless it needs one of its own: a test
    that stops, kills or configures the broker (``own_broker``), or another kind of broker
    than the suite's."""
    kind = overrides.get("broker", TEST_BROKER.value)
    if not own_broker and kind == TEST_BROKER.value:
        overrides = {
            "kafka_bootstrap_servers": SharedBroker.bootstrap(),
            "topic_prefix": f"t{uuid.uuid4().hex[:10]}.",
        } | overrides
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
