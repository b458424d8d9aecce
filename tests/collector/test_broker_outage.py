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
    answers: list[tuple[int, bool]] = []  # (status, whether it says when to retry)
    stop = threading.Event()

    def sender() -> None:
        """Sends until stopped; only records (a failed assert here would end the thread and
        no one would see it), the test's own thread checks what came back."""
        with httpx.Client(base_url=server.url, timeout=10) as client:
            while not stop.is_set():
                batch = [page_view(f"browser-{uuid.uuid4()}") for _ in range(5)]
                answer = client.post("/v1/batch", json={"write_key": "a-write", "batch": batch})
                answers.append((answer.status_code, "retry-after" in answer.headers))
                if answer.is_success:
                    acknowledged.update(e["event_id"] for e in batch)

    threads = [threading.Thread(target=sender) for _ in range(3)]
    try:
        for thread in threads:
            thread.start()
        time.sleep(1.5)
        assert broker.process is not None
        os.kill(broker.process.pid, signal.SIGSTOP)
        time.sleep(3)
        during = len(answers)
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
    assert not any(thread.is_alive() for thread in threads), "a sender never came back"
    assert len(answers) > during > 0, "every sender died early"
    statuses = [status for status, _ in answers]
    assert set(statuses) <= {200, 429, 503}
    bare = [status for status, retry in answers if status != 200 and not retry]
    assert not bare, f"{len(bare)} refusals without Retry-After: the client cannot know when"
    assert 503 in statuses[: during + 3], "the frozen broker must have produced 503s"
    assert statuses[-1] == 200, "the collector recovers once the broker answers again"
    stored = {r["event_id"] for r in broker.read("events")}
    stored |= {r["event_id"] for r in broker.read("events.overflow")}
    missing = acknowledged - stored
    assert not missing, f"{len(missing)} acknowledged events are not in Kafka"
    assert len(acknowledged) > 50
