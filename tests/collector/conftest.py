"""Fixtures of the collector tests: a real broker, the app in-process or under uvicorn."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from collector.app import create_app
from collector.settings import CollectorSettings, Site
from footfall.brokers import free_port, start_broker
from tests.collector.kafka_read import read_topic
from tests.conftest import TEST_BROKER, SharedBroker

SHOP_A = Site.model_validate(
    {
        "site_id": "shop-a",
        "write_key": "a-write",
        "secret_key": "a-secret",
        "allowed_origins": ["https://a.example"],
    }
)
SHOP_B = Site.model_validate(
    {
        "site_id": "shop-b",
        "write_key": "b-write",
        "secret_key": "b-secret",
        "allowed_origins": ["https://b.example"],
    }
)


@dataclass(frozen=True)
class KafkaSpace:
    """Where a test's collector writes: a broker and the prefix of the test's own topics.
    ``process`` is set only for a broker the test owns (and may freeze or kill)."""

    bootstrap: str
    prefix: str = "t."
    process: subprocess.Popen[bytes] | None = None

    def topic(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def read(self, name: str, idle_s: float = 1.5) -> list[dict[str, Any]]:
        """Every record of this space's topic ``name`` (e.g. ``events``, ``events.dlq``)."""
        return read_topic(self.bootstrap, self.topic(name), idle_s=idle_s)


def shared_space() -> KafkaSpace:
    """Topics of their own on the session's shared broker."""
    return KafkaSpace(SharedBroker.bootstrap(), f"t{uuid.uuid4().hex[:10]}.")


@pytest.fixture
def broker() -> KafkaSpace:
    return shared_space()


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[KafkaSpace]:
    with start_broker(TEST_BROKER, tmp_path) as running:
        yield KafkaSpace(running.bootstrap, process=running.process)


def collector_settings(kafka: KafkaSpace, **overrides: object) -> CollectorSettings:
    values: dict[str, object] = {
        "kafka_bootstrap_servers": kafka.bootstrap,
        "broker_kind": TEST_BROKER,
        "topic_prefix": kafka.prefix,
        "partitions": 2,
        "sites": [SHOP_A, SHOP_B],
        "produce_timeout_s": 3.0,
        "retry_after_s": 2,
    }
    return CollectorSettings(**(values | overrides))  # type: ignore[arg-type]


def wait_ready(client: TestClient | httpx.Client, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while client.get("/readyz").status_code != 200:
        if time.monotonic() > deadline:
            raise RuntimeError("collector never became ready")
        time.sleep(0.1)


@pytest.fixture
def make_client() -> Iterator[Callable[..., TestClient]]:
    """The app in-process (lifespan included), connected to Kafka before it is returned."""
    opened: list[TestClient] = []

    def make(settings: CollectorSettings, address: str = "testclient") -> TestClient:
        app = create_app(settings)
        client = TestClient(app, raise_server_exceptions=False, client=(address, 50000))
        client.__enter__()
        opened.append(client)
        wait_ready(client)
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)


class Uvicorn:
    """``python -m collector`` in a child process on a free port, stopped by its PID."""

    def __init__(
        self, settings: CollectorSettings, log_path: Path, extra_env: dict[str, str] | None = None
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = (
            os.environ
            | {
                "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
                "FOOTFALL_BROKER_KIND": settings.broker_kind.value,
                "FOOTFALL_PORT": str(self.port),
                "FOOTFALL_TOPIC_PREFIX": settings.topic_prefix,
                "FOOTFALL_PARTITIONS": str(settings.partitions),
                "FOOTFALL_SITES": "["
                + ",".join(site.model_dump_json() for site in settings.sites)
                + "]",
            }
            | (extra_env or {})
        )
        self.log = log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "collector"], env=env, stdout=self.log, stderr=subprocess.STDOUT
        )
        with httpx.Client(base_url=self.url) as client:
            deadline = time.monotonic() + 30
            while True:
                try:
                    wait_ready(client)
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline or self.process.poll() is not None:
                        raise
                    time.sleep(0.1)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.log.close()
