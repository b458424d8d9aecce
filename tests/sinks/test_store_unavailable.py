"""ClickHouse unavailable: the sink waits without consuming, then catches up exactly.

The embedded store is made unavailable the way it happens in practice: another process owns
the chDB directory (a server that is down takes the same path: a transient connection error).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from base.kafka import ensure_topics, start_producer
from base.sqlclient import SqlClient
from footfall.stack import Stack, http_ok
from tests.conftest import stack_settings_for
from tests.sinks.test_cookbook import event

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

HOLD = """
import sys, time, clickhouse_connect
client = clickhouse_connect.get_client(dsn=sys.argv[1])  # kept: closing it frees the lock
client.command("SELECT 1")
print("holding", flush=True)
time.sleep(300)
"""


def events(count: int, tag: str) -> list[dict[str, Any]]:
    return [
        event("page_view", f"{tag}{n % 17}", "2026-11-02T08:50:00Z", f"s-{tag}{n}")
        for n in range(count)
    ]


async def produce(stack: Stack, batch: list[dict[str, Any]]) -> None:
    kafka = stack.settings
    await ensure_topics(kafka)
    producer = await start_producer(kafka)
    try:
        for item in batch:
            await producer.send(kafka.topics.events, orjson.dumps(item), key=b"k")
        await producer.flush()
    finally:
        await producer.stop()


def health(stack: Stack) -> dict[str, Any]:
    """The sink's health; a refused connection (the machine busy) reads as not answering."""
    try:
        body: dict[str, Any] = httpx.get(f"{stack.settings.sink_url}/healthz", timeout=5).json()
    except httpx.TransportError as exc:
        return {"status": f"not answering: {exc}"}
    return body


def wait_for(check: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.3)


def test_a_locked_store_is_waited_for_then_every_event_lands_once(tmp_path: Path) -> None:
    with Stack(stack_settings_for(tmp_path, own_broker=True)) as stack:
        (tmp_path / "logs").mkdir()
        for child in stack.children:
            child.log_path = tmp_path / "logs" / f"{child.name}.log"
        stack.launch(stack.child("broker"))
        first = events(400, "a")
        asyncio.run(produce(stack, first))
        holder = subprocess.Popen(
            [sys.executable, "-c", HOLD, stack.settings.store_dsn], stdout=subprocess.PIPE
        )
        try:
            assert holder.stdout is not None
            assert holder.stdout.readline().strip() == b"holding"
            sink = stack.child("sink")
            sink.ready = lambda: http_ok(f"{stack.settings.sink_url}/healthz")  # up, not ready
            stack.launch(sink)
            assert not http_ok(f"{stack.settings.sink_url}/readyz")
            wait_for(lambda: "another process" in health(stack).get("waiting_for", ""))
            time.sleep(3)  # several retries: the sink stays up and waiting
            assert stack.child("sink").alive()
            assert health(stack)["status"] == "waiting"
            refused = httpx.post(
                f"{stack.settings.sink_url}/",
                content=b"SELECT 1",
                headers={"X-ClickHouse-Key": stack.settings.admin_token},
            )
            assert refused.status_code == 503
            assert "Retry-After" in refused.headers
        finally:
            holder.kill()
            holder.wait(10)
        sql = SqlClient(stack.settings.sink_url, stack.settings.admin_token)
        wait_for(lambda: health(stack)["status"] == "ok")
        wait_for(lambda: sql.scalar("SELECT count() FROM events") == len(first))
        second = events(100, "b")
        asyncio.run(produce(stack, second))
        wait_for(lambda: sql.scalar("SELECT count() FROM events") == len(first) + len(second))
        stored = {
            row["event_id"] for row in sql.rows("SELECT toString(event_id) AS event_id FROM events")
        }
        assert stored == {item["event_id"] for item in first + second}
        sql.close()
