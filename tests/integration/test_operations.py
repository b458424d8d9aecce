"""Operating the stack, on one running stack: raw counts stay exact when the same event reaches
Kafka at a new offset, every metric the dashboard and the alert rules name is exported by a
process, and a frozen store turns the sink's readiness false with the reason, seen by
``footfall up``'s status line and ``footfall status``."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from base.sqlclient import SqlClient
from footfall.cli import app, stack_health
from footfall.stack import Stack
from tests.collector.events import page_view
from tests.conftest import stack_settings_for
from tests.integration.test_lag import eventually

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
COMMIT_STALL_S = 8


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    settings = stack_settings_for(tmp_path_factory.mktemp("operations"))
    with Stack(settings) as running:
        for child in running.children:
            child.env["FOOTFALL_HEALTH__COMMIT_STALL_S"] = str(COMMIT_STALL_S)
        running.start()
        yield running


@pytest.fixture(scope="module")
def sql(stack: Stack) -> Iterator[SqlClient]:
    client = SqlClient(stack.settings.sink_url, stack.settings.admin_token)
    yield client
    client.close()


def urls(stack: Stack) -> dict[str, str]:
    s = stack.settings
    return {
        "collector": s.collector_url,
        "worker": s.worker_url,
        "sink": s.sink_url,
        "webhooks": s.webhooks_url,
    }


def post(stack: Stack, batch: list[dict[str, Any]], request_id: str = "") -> None:
    headers = {"Authorization": "Bearer demo-secret-key"}  # httpx's agent is a bot's
    answer = httpx.post(
        f"{stack.settings.collector_url}/v1/batch",
        json={"batch": batch},
        headers=headers | ({"X-Request-ID": request_id} if request_id else {}),
        timeout=10,
    )
    assert answer.json()["accepted"] == len(batch), answer.text
    assert answer.headers["X-Request-ID"] == (request_id or answer.headers["X-Request-ID"])


def scrape(stack: Stack, process: str) -> str:
    headers = {"Authorization": f"Bearer {stack.settings.admin_token}"}
    answer = httpx.get(f"{urls(stack)[process]}/metrics", headers=headers, timeout=10)
    assert answer.status_code == 200, f"{process}: {answer.status_code}"
    return answer.text


def sample(text: str, name: str, **labels: str) -> float:
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name and labels.items() <= s.labels.items()
    )


def ready(stack: Stack, process: str) -> dict[str, Any]:
    try:
        body: dict[str, Any] = httpx.get(f"{urls(stack)[process]}/readyz", timeout=5).json()
    except httpx.HTTPError as exc:
        return {"ready": None, "problems": [f"not answering: {exc}"]}
    return body


async def copy_again(stack: Stack, event_ids: set[str]) -> set[bytes]:
    """Produce the collector's records of ``event_ids`` again, byte for byte (headers too):
    the same events at new offsets, as when a client retries after its answer was lost.
    Returns the request ids the records carried."""
    bootstrap, topic = stack.settings.bootstrap, stack.settings.topics.events
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    found: list[Any] = []
    try:
        deadline = time.monotonic() + 30
        while len(found) < len(event_ids) and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                found += [r for r in records if json.loads(r.value)["event_id"] in event_ids]
    finally:
        await consumer.stop()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for record in found:
            await producer.send_and_wait(
                topic, record.value, key=record.key, headers=list(record.headers)
            )
    finally:
        await producer.stop()
    assert len(found) == len(event_ids)
    return {value for r in found for key, value in r.headers if key == "footfall-request-id"}


def test_the_same_event_at_a_new_offset_stays_one_row_of_raw_events(
    stack: Stack, sql: SqlClient
) -> None:
    batch = [page_view(f"again-{n}") for n in range(5)]
    ids = {item["event_id"] for item in batch}
    post(stack, batch, "retry-test-1")
    query = "SELECT count() FROM events WHERE anonymous_id LIKE 'again-%'"
    stored = eventually(lambda: sql.scalar(query), lambda n: n == 5)
    assert stored == 5
    topic = stack.settings.topics.events

    def committed_and_lag() -> tuple[float, float]:
        """The sink's committed offsets on the events topic (summed) and its lag there, as
        the broker reports them: an offset is committed only once its rows are stored."""
        metrics = scrape(stack, "sink")
        offsets = sample(metrics, "footfall_consumer_committed_offset", topic=topic)
        return offsets, sample(metrics, "footfall_consumer_lag", topic=topic)

    before, _ = eventually(committed_and_lag, lambda r: r[0] >= 5 and r[1] == 0)
    assert asyncio.run(copy_again(stack, ids)) == {b"retry-test-1"}  # the request id travels
    after, _ = eventually(committed_and_lag, lambda r: r[0] >= before + 5)
    assert after == before + 5  # the copies were read, stored and committed
    assert sql.scalar(query) == 5  # raw count(), no FINAL
    dropped = sample(scrape(stack, "sink"), "footfall_sink_duplicates_dropped_total")
    assert dropped == 5
    assert sql.scalar(query.replace("FROM events", "FROM events FINAL")) == 5


def exported_names(text: str) -> set[str]:
    """Every series name a scrape can show: families with no sample yet (a labelled counter
    nothing incremented) count by their type's suffixes."""
    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"]}
    names = set()
    for family in text_string_to_metric_families(text):
        names |= {family.name + s for s in suffixes.get(family.type, [""])}
        names |= {s.name for s in family.samples}
    return names


def named_in(expression: str) -> set[str]:
    return set(re.findall(r"\bfootfall_[a-z0-9_]+", expression))


def test_every_metric_of_the_dashboard_and_the_alerts_is_exported(stack: Stack) -> None:
    post(stack, [page_view("metrics-1")])
    exported = set().union(*(exported_names(scrape(stack, p)) for p in urls(stack)))
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    alerts = {r["alert"]: named_in(r["expr"]) for g in rules["groups"] for r in g["rules"]}
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "footfall.json").read_text())
    panels = {
        p["title"]: set().union(*(named_in(t["expr"]) for t in p["targets"]))
        for p in dashboard["panels"]
    }
    assert len(alerts) >= 8
    assert len(panels) >= 20
    for where, names in [*alerts.items(), *panels.items()]:
        assert names - exported == set(), f"{where} names what no process exports"
    unbounded = {"event_id", "anonymous_id", "customer_id", "profile_id", "offset", "url"}
    for process in urls(stack):
        for family in text_string_to_metric_families(scrape(stack, process)):
            for s in family.samples:
                assert not unbounded & s.labels.keys(), f"{process}: {s.name} {s.labels}"


def test_every_process_is_live_and_ready_and_footfall_status_says_so(stack: Stack) -> None:
    for process, url in urls(stack).items():
        assert httpx.get(f"{url}/livez", timeout=5).json()["live"] is True, process
        body = eventually(lambda p=process: ready(stack, p), lambda b: b["ready"] is True)  # type: ignore[misc]
        assert body == {"ready": True, "problems": []}, process
    options = [f"--{p}-url={u}" for p, u in urls(stack).items()]
    shown = CliRunner().invoke(
        app, ["status", "--once", *options, f"--token={stack.settings.admin_token}"]
    )
    assert shown.exit_code == 0, shown.output
    assert "not ready" not in shown.output
    assert "footfall-clickhouse-sink" in shown.output


def engine_pid(stack: Stack) -> int:
    """The sink's engine process: its one child."""
    sink = stack.child("sink").pid
    children = [
        int(pid)
        for task in Path(f"/proc/{sink}/task").iterdir()
        for pid in (task / "children").read_text().split()
    ]
    assert len(children) == 1, children
    return children[0]


def test_a_frozen_store_turns_the_sink_not_ready_with_the_reasons(
    stack: Stack, sql: SqlClient
) -> None:
    engine = engine_pid(stack)
    os.kill(engine, signal.SIGSTOP)
    try:
        post(stack, [page_view(f"frozen-{n}") for n in range(3)])  # rows that cannot land
        with stack_health(stack.settings) as health:  # what `footfall up` shows

            def reasons() -> str:
                return " ".join(ready(stack, "sink")["problems"])

            shown = eventually(reasons, lambda r: "unanswered" in r and "not moved" in r)
            assert "store: a query unanswered for" in shown
            assert "footfall-clickhouse-sink on" in shown
            assert "has not moved for" in shown
            assert ready(stack, "sink")["ready"] is False
            assert httpx.get(f"{stack.settings.sink_url}/livez", timeout=5).json()["live"]
            line = eventually(health.summary, lambda s: "sink not ready" in s, 10)
            assert "sink not ready: " in line
            metrics = scrape(stack, "sink")
            assert sample(metrics, "footfall_ready", process="sink") == 0
    finally:
        os.kill(engine, signal.SIGCONT)
    body = eventually(lambda: ready(stack, "sink"), lambda b: b["ready"] is True)
    assert body["ready"] is True, body
    assert sql.scalar("SELECT count() FROM events WHERE anonymous_id LIKE 'frozen-%'") == 3
