"""Fixtures for webhook tests: the real broker, a real dispatcher process, a real receiver."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from base.config import FootfallSettings, Topics
from base.kafka import ensure_topics
from footfall.brokers import free_port
from schemas.webhooks import Subscription
from tests.collector import kafka_read
from tests.collector.kafka_read import write_records
from tests.conftest import TEST_BROKER, SharedBroker
from tests.webhooks.receiver import Receiver
from webhooks.signing import new_secret
from webhooks.subscriptions import to_toml

ADMIN_TOKEN = "test-admin"
PARTITIONS = 2


@pytest.fixture
def topics() -> Topics:
    """The test's own topics (and so its dispatcher's own groups) on the shared broker."""
    return Topics(prefix=f"w{uuid.uuid4().hex[:10]}.")


@pytest.fixture
def broker(topics: Topics) -> str:
    bootstrap = SharedBroker.bootstrap()
    settings = FootfallSettings(
        kafka_bootstrap_servers=bootstrap,
        broker_kind=TEST_BROKER,
        partitions=PARTITIONS,
        topic_prefix=topics.prefix,
    )
    asyncio.run(ensure_topics(settings))
    return bootstrap


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver(secret=new_secret()) as running:
        yield running


@dataclass
class DispatcherProcess:
    """``python -m webhooks`` as a child process, with its settings in the environment."""

    data_dir: Path
    bootstrap: str
    policy: dict[str, Any]
    topics: Topics = field(default_factory=Topics)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        values = {
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "FOOTFALL_TOPIC_PREFIX": self.topics.prefix,
            "FOOTFALL_PORT": str(self.port),
            "FOOTFALL_ADMIN_TOKEN": ADMIN_TOKEN,
            "FOOTFALL_DATA_DIR": str(self.data_dir),
            "FOOTFALL_SESSION_TIMEOUT_S": "6",
            "FOOTFALL_PARTITIONS": str(PARTITIONS),
            "PYTHONUNBUFFERED": "1",
        }
        for name, value in self.policy.items():
            encoded = orjson.dumps(value).decode() if isinstance(value, list) else str(value)
            values[f"FOOTFALL_WEBHOOKS__{name.upper()}"] = encoded
        return values

    def start(self) -> None:
        log = (self.data_dir / "dispatcher.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "webhooks"],
            env=os.environ | self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + 30
        while True:
            assert self.process.poll() is None, self.log_tail()
            assert time.monotonic() < deadline, self.log_tail()
            try:
                if httpx.get(f"{self.url}/ping", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)

    def kill9(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(5)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(5)

    def log_tail(self) -> str:
        path = self.data_dir / "dispatcher.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else "no log"

    def health(self) -> dict[str, Any]:
        found: dict[str, Any] = httpx.get(f"{self.url}/healthz", timeout=5).json()
        return found

    def admin(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(
            method,
            f"{self.url}/v1{path}",
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            timeout=30,
            **kwargs,
        )


def subscription(receiver: Receiver, path: str, events: list[str], **extra: Any) -> Subscription:
    return Subscription(
        id=path,
        site_id="shop",
        url=receiver.url(path),
        secret=receiver.secret,
        events=events,
        **extra,
    )


FAST = {
    "backoff_base_s": 0.3,
    "jitter": 0,
    "timeout_s": 5,
    "allow_networks": ["127.0.0.0/8"],
    "commit_interval_s": 0.2,
}


@pytest.fixture
def make_dispatcher(
    tmp_path: Path, broker: str, topics: Topics
) -> Iterator[Callable[..., DispatcherProcess]]:
    started: list[DispatcherProcess] = []

    def make(subscriptions: list[Subscription], **policy: Any) -> DispatcherProcess:
        data_dir = tmp_path / "webhooks"
        data_dir.mkdir(exist_ok=True)
        (data_dir / "subscriptions.toml").write_text(to_toml(subscriptions))
        dispatcher = DispatcherProcess(data_dir, broker, FAST | policy, topics)
        dispatcher.start()
        started.append(dispatcher)
        return dispatcher

    yield make
    for dispatcher in started:
        dispatcher.stop()


def produce(bootstrap: str, topic: str, records: list[tuple[str, dict[str, Any]]]) -> None:
    write_records(bootstrap, topic, [(key.encode(), orjson.dumps(value)) for key, value in records])


def read_topic(bootstrap: str, topic: str, quiet_s: float = 1.0) -> list[dict[str, Any]]:
    """Every record on ``topic`` (read from the start until a quiet poll)."""
    return kafka_read.read_topic(bootstrap, topic, idle_s=quiet_s)


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)
