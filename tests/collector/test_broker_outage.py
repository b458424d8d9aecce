"""The broker stops answering mid-run: every 2xx'd event is in Kafka, the rest got 503/429.

The local broker keeps its data in memory only, so "stopped" here is SIGSTOP (frozen, the
collector's sends time out) and SIGCONT afterwards, after which the topic is read back.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.collector.conftest import KafkaSpace, Uvicorn, collector_settings
from tests.collector.events import page_view

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def test_no_2xx_for_an_event_kafka_does_not_hold(own_broker: KafkaSpace, tmp_path: Path) -> None:
    broker = own_broker  # frozen below: not the shared one
    settings = collector_settings(broker)
    server = Uvicorn(settings, tmp_path / "collector.log", {"FOOTFALL_PRODUCE_TIMEOUT_S": "1"})
    acknowledged: set[str] = set()
    statuses: list[int] = []
    stop = threading.Event()

    def sender() -> None:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            while not stop.is_set():
                batch = [page_view(f"browser-{uuid.uuid4()}") for _ in range(5)]
                answer = client.post("/v1/batch", json={"write_key": "a-write", "batch": batch})
                statuses.append(answer.status_code)
                if answer.is_success:
                    acknowledged.update(e["event_id"] for e in batch)
                else:
                    assert "retry-after" in answer.headers

    threads = [threading.Thread(target=sender) for _ in range(3)]
    try:
        for thread in threads:
            thread.start()
        time.sleep(1.5)
        assert broker.process is not None
        os.kill(broker.process.pid, signal.SIGSTOP)
        time.sleep(3)
        during = len(statuses)
        os.kill(broker.process.pid, signal.SIGCONT)
        time.sleep(3)
        stop.set()
        for thread in threads:
            thread.join(30)
    finally:
        stop.set()
        if broker.process is not None:
            os.kill(broker.process.pid, signal.SIGCONT)
        server.stop()
    assert set(statuses) <= {200, 429, 503}
    assert 503 in statuses[: during + 3], "the frozen broker must have produced 503s"
    assert statuses[-1] == 200, "the collector recovers once the broker answers again"
    stored = {r["event_id"] for r in broker.read("events")}
    stored |= {r["event_id"] for r in broker.read("events.overflow")}
    missing = acknowledged - stored
    assert not missing, f"{len(missing)} acknowledged events are not in Kafka"
    assert len(acknowledged) > 50
