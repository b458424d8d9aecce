"""Erasing a customer on the real stack: no store keeps a trace of them, others are untouched,
the marketing tool is told, and a ``kill -9`` in the middle still ends in ``done``."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from typer.testing import CliRunner

from base.sqlclient import SqlClient
from footfall.cli import app
from footfall.stack import Stack
from stream_processors.settings import WorkerSettings
from tests.conftest import stack_settings_for
from tests.processors.test_identity_stack import event, send
from tests.webhooks.conftest import wait_for
from tests.webhooks.receiver import Receiver
from webhooks.signing import new_secret

pytestmark = [pytest.mark.integration]

ERIN, OTTO, KIM = (f"{name}{uuid.uuid4().hex[:8]}" for name in ("erin", "otto", "kim"))
"""Customer ids no log line or other text holds by chance."""


def history(customer: str, browsers: list[str]) -> list[dict[str, Any]]:
    """Browsing on every device, then an identify (with personal traits) and an order."""
    events = []
    for b, browser in enumerate(browsers):
        events += [event(browser, 10 * b + n) for n in range(3)]
        events.append(
            event(browser, 10 * b + 4, "product_view", properties={"product_id": f"p-{customer}"})
        )
        traits = {"email": f"{customer}@example.com", "phone": "+49 151 0000 1234"}
        events.append(
            event(
                browser,
                10 * b + 5,
                "identify",
                customer_id=customer,
                properties={"traits": traits},
            )
        )
    events.append(
        event(
            browsers[-1],
            60,
            "order_placed",
            properties={"order_id": f"o-{customer}-1", "total": "42.00", "currency": "EUR"},
        )
    )
    return events


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with Receiver(secret=new_secret()) as running:
        yield running


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, receiver: Receiver) -> Iterator[Stack]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FOOTFALL_WEBHOOKS__ALLOW_NETWORKS", '["127.0.0.0/8"]')
        # The demo site lets go of customers inactive for a year (the histories here are
        # two months old), looked for every 2 s.
        patch.setenv(
            "FOOTFALL_RETENTION_SITES", json.dumps({"demo": {"inactive_profiles_days": 365}})
        )
        patch.setenv("FOOTFALL_EXPIRY_SCAN_S", "2")
        with Stack(stack_settings_for(tmp_path_factory.mktemp("erasure"))) as running:
            running.start()
            subscription = {
                "id": "crm",
                "site_id": "demo",
                "url": receiver.url("ok"),
                "events": ["order.placed", "order.first"],
                "secret": receiver.secret,
            }
            added = httpx.post(
                f"{running.settings.webhooks_url}/v1/subscriptions",
                json=subscription,
                headers={"Authorization": f"Bearer {running.settings.admin_token}"},
                timeout=30,
            )
            assert added.status_code == 201, added.text
            yield running


@pytest.fixture(scope="module")
def sql(stack: Stack) -> Iterator[SqlClient]:
    client = SqlClient(stack.settings.sink_url, stack.settings.admin_token)
    yield client
    client.close()


def count(sql: SqlClient, query: str, **params: str) -> int:
    return int(sql.rows(query, params)[0]["n"])


def stored(sql: SqlClient, customer: str) -> int:
    """Events stored of the customer's browsers (named ``<device>-<customer>``)."""
    return count(
        sql, "SELECT count() AS n FROM events WHERE anonymous_id LIKE {c:String}", c=f"%-{customer}"
    )


def erasure_status(stack: Stack, request_id: str) -> dict[str, Any]:
    response = httpx.get(
        f"{stack.settings.sink_url}/privacy/erasures/{request_id}",
        headers={"Authorization": f"Bearer {stack.settings.admin_token}"},
        timeout=10,
    )
    return dict(response.json()) if response.status_code == 200 else {"status": "unknown"}


def table_texts(sql: SqlClient) -> dict[str, str]:
    """Every table of the store, every row, as text."""
    tables = sql.rows(
        "SELECT name FROM system.tables WHERE database = currentDatabase() "
        "AND engine NOT IN ('View', 'MaterializedView')"
    )
    return {
        str(t["name"]): sql.raw(f"SELECT * FROM `{t['name']}`", "JSONEachRow").decode(
            errors="replace"
        )
        for t in tables
    }


def changelogs(stack: Stack, names: list[str]) -> list[str]:
    """The changelog topics of this stack's worker (the broker may hold other stacks')."""
    app_id = WorkerSettings(topic_prefix=stack.settings.topic_prefix).app_id
    return [n for n in names if n.startswith(f"{app_id}-") and n.endswith("-changelog")]


async def read_topics(
    bootstrap: str, names: list[str]
) -> dict[str, list[tuple[bytes, bytes | None]]]:
    """Every record of the named topics, as (key, value)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    found: dict[str, list[tuple[bytes, bytes | None]]] = {name: [] for name in names}
    try:
        tps = [
            TopicPartition(name, p)
            for name in names
            for p in range(await partitions(bootstrap, name))
        ]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        await consumer.seek_to_beginning(*tps)
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            polled = await consumer.getmany(timeout_ms=1000)
            for tp, records in polled.items():
                found[tp.topic] += [(r.key or b"", r.value) for r in records]
    finally:
        await consumer.stop()
    return found


async def partitions(bootstrap: str, topic: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return len(described[0]["partitions"])


async def topic_names(bootstrap: str) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return sorted(await admin.list_topics())
    finally:
        await admin.close()


def latest_values(records: list[tuple[bytes, bytes | None]]) -> dict[bytes, bytes | None]:
    """A compacted topic as a reader rebuilding from it sees it: the last value per key."""
    latest: dict[bytes, bytes | None] = {}
    for key, value in records:
        latest[key] = value
    return latest


def worker_files(stack: Stack, manifests: bool = True) -> list[Path]:
    """The worker's table files; RocksDB's MANIFEST (file boundaries, their first and last
    keys) keeps those of dropped files until the worker starts again."""
    found = (stack.settings.data_dir / "worker").rglob("*")
    return sorted(p for p in found if p.is_file() and (manifests or "MANIFEST" not in p.name))


def holding(text: str | bytes, needles: list[str]) -> list[str]:
    haystack = text.decode(errors="replace") if isinstance(text, bytes) else text
    return [needle for needle in needles if needle in haystack]


@pytest.mark.timeout(240)
def test_an_erased_customer_leaves_no_trace_and_the_others_stay(
    stack: Stack, sql: SqlClient, receiver: Receiver
) -> None:
    erin = history(ERIN, [f"laptop-{ERIN}", f"phone-{ERIN}"])
    otto = history(OTTO, [f"tablet-{OTTO}"])
    send(stack, erin + otto)
    wait_for(lambda: stored(sql, ERIN) == 11 and stored(sql, OTTO) == 6, 90, "both in SQL")
    wait_for(
        lambda: (
            count(
                sql,
                "SELECT count() AS n FROM profiles FINAL "
                "WHERE profile_id IN ({e:String}, {o:String})",
                e=ERIN,
                o=OTTO,
            )
            == 2
        ),
        90,
        "both profiles in SQL",
    )
    wait_for(lambda: len(receiver.hits("ok")) >= 4, 60, "the order webhooks of both")
    otto_before = count(
        sql, "SELECT count() AS n FROM events WHERE anonymous_id = {o:String}", o=f"tablet-{OTTO}"
    )

    exported = CliRunner().invoke(
        app,
        [
            "export",
            ERIN,
            "--site",
            "demo",
            "--sink-url",
            stack.settings.sink_url,
            "--worker-url",
            stack.settings.worker_url,
        ],
    )
    assert exported.exit_code == 0, exported.output
    document = json.loads(exported.stdout)
    assert document["browsers"] == sorted([f"laptop-{ERIN}", f"phone-{ERIN}"])
    assert len(document["clickhouse"]["events"]) == 11
    assert document["worker"]["profile"]["profile_id"] == ERIN
    assert OTTO not in exported.stdout

    result = CliRunner().invoke(
        app,
        ["erase", ERIN, "--site", "demo", "--wait", "120", "--sink-url", stack.settings.sink_url],
    )
    assert result.exit_code == 0, result.output
    assert '"status": "done"' in result.output
    assert '"clickhouse events": 11' in result.output  # every event of both devices
    assert '"worker identity table": 2' in result.output  # both browsers' links

    # In flight or late: an event of an erased browser, one naming the customer.
    send(stack, [event(f"laptop-{ERIN}", 90), event(f"new-{ERIN}", 91, customer_id=ERIN)])
    send(stack, [event(f"tablet-{OTTO}", 92)])  # a marker: once it is stored, the others were read
    wait_for(
        lambda: (
            count(
                sql,
                "SELECT count() AS n FROM events WHERE anonymous_id = {o:String}",
                o=f"tablet-{OTTO}",
            )
            == otto_before + 1
        ),
        60,
        "the marker event",
    )
    time.sleep(2)  # the profile snapshots of the marker

    needles = [ERIN, f"{ERIN}@example.com", f"o-{ERIN}-1"]
    needles += [e["event_id"] for e in erin]

    # ClickHouse: every table, every row.
    texts = table_texts(sql)
    assert {t: holding(text, needles) for t, text in texts.items() if holding(text, needles)} == {}
    assert f"{OTTO}@example.com" in texts["events"]
    assert count(
        sql, "SELECT count() AS n FROM events WHERE anonymous_id = {o:String}", o=f"tablet-{OTTO}"
    ) == (otto_before + 1)

    # Kafka: the compacted topics and the changelogs, as a reader rebuilding from them sees
    # them; the privacy topic (requests, reports) in full.
    bootstrap = stack.settings.bootstrap
    names = asyncio.run(topic_names(bootstrap))
    compacted = [*changelogs(stack, names), stack.settings.topics.profiles]
    privacy = stack.settings.topics.privacy
    topics = asyncio.run(read_topics(bootstrap, [*compacted, privacy]))
    for name in compacted:
        live = latest_values(topics[name])
        left = {k: holding(v, needles) for k, v in live.items() if v and holding(v, needles)}
        assert left == {}, name
    assert any(
        OTTO.encode() in (v or b"")
        for v in latest_values(topics[stack.settings.topics.profiles]).values()
    )
    assert [
        holding(v or b"", needles) for _, v in topics[privacy] if holding(v or b"", needles)
    ] == []

    # The worker's live tables.
    worker = stack.settings.worker_url
    for view in (
        f"/profiles/demo/{ERIN}",
        f"/profiles/demo/anon-laptop-{ERIN}",
        f"/profiles/demo/new-{ERIN}",
    ):
        assert httpx.get(f"{worker}{view}", timeout=10).status_code == 404, view
    identity = httpx.get(f"{worker}/identity/demo/laptop-{ERIN}", timeout=10)
    assert identity.status_code == 404 or '"links":[]' in identity.text.replace(" ", "")
    assert httpx.get(f"{worker}/profiles/demo/{OTTO}", timeout=10).status_code == 200

    # The dispatcher's state file, bytes and all (deleted rows are zeroed), and the worker's
    # table files (the write-ahead logs are plain; the tables are compacted after a removal).
    state_files = sorted((stack.settings.data_dir / "webhooks").glob("*.sqlite*"))
    table_files = worker_files(stack, manifests=False)
    assert state_files
    assert any(p.suffix == ".log" for p in table_files)
    for path in state_files + table_files:
        assert holding(path.read_bytes(), needles) == [], path

    # The marketing tool was told, signed.
    wait_for(
        lambda: any(h.body and h.body["type"] == "customer.erased" for h in receiver.hits("ok")),
        60,
        "the customer.erased webhook",
    )
    notice = next(h for h in receiver.hits("ok") if h.body and h.body["type"] == "customer.erased")
    assert notice.verified
    assert notice.body is not None
    told = {
        h.body["profile"]["profile_id"]
        for h in receiver.hits("ok")
        if h.body
        and h.body["type"].startswith("order.")
        and ERIN in h.body["profile"]["profile_id"]
    }  # the customer, or a browser's anonymous profile if the order came before the identify
    assert told
    assert sorted(notice.body["data"]["profile_ids"]) == sorted(told)

    # The audit trail holds the request, by subject only.
    audit = sql.rows(
        "SELECT actor, action, target FROM audit_log WHERE action = 'erasure.requested'"
    )
    assert [row["actor"] for row in audit] == ["cli"]


@pytest.mark.timeout(180)
def test_a_kill_9_in_the_middle_of_an_erasure_still_ends_in_done(
    stack: Stack, sql: SqlClient
) -> None:
    send(stack, history(KIM, [f"phone-{KIM}", f"laptop-{KIM}"]))
    wait_for(lambda: stored(sql, KIM) == 11, 90, "kim in SQL")
    asked = httpx.post(
        f"{stack.settings.sink_url}/privacy/erasures",
        json={"site_id": "demo", "customer_id": KIM},
        headers={"Authorization": f"Bearer {stack.settings.admin_token}"},
        timeout=10,
    )
    assert asked.status_code == 202, asked.text
    request_id = asked.json()["request_id"]
    for name in ("worker", "sink", "webhooks"):
        stack.kill(name)
        stack.restart(name)
    wait_for(lambda: erasure_status(stack, request_id)["status"] == "done", 120, "done")
    assert stored(sql, KIM) == 0
    # The changelogs and the profiles topic, as a reader rebuilding from them sees them.
    bootstrap = stack.settings.bootstrap
    names = asyncio.run(topic_names(bootstrap))
    compacted = [*changelogs(stack, names), stack.settings.topics.profiles]
    for name, records in asyncio.run(read_topics(bootstrap, compacted)).items():
        live = latest_values(records)
        assert [k for k, v in live.items() if v and KIM.encode() in v] == [], name
    # The worker started again: the customer erased before is in no table file (RocksDB's
    # MANIFEST may still name a dropped file's boundary keys: docs/privacy.md).
    for path in worker_files(stack, manifests=False):
        assert holding(path.read_bytes(), [ERIN]) == [], path
    assert (
        count(
            sql, "SELECT count() AS n FROM profiles WHERE profile_id LIKE {k:String}", k=f"%{KIM}"
        )
        == 0
    )


@pytest.mark.timeout(180)
def test_a_customer_inactive_past_the_sites_retention_leaves_the_worker(
    stack: Stack, sql: SqlClient
) -> None:
    browser, kept = (f"{name}-{uuid.uuid4().hex[:8]}" for name in ("gone", "kept"))
    customer = f"c-{browser}"
    long_ago = datetime.now(UTC) - timedelta(days=400)
    old = [event(browser, n) for n in range(3)]
    old.append(event(browser, 4, "identify", customer_id=customer))
    old.append(event(browser, 5))
    for n, item in enumerate(old):
        item["occurred_at"] = (long_ago + timedelta(minutes=n)).isoformat()
    send(stack, [*old, *(event(kept, n) for n in range(3))])
    key = f"demo:{customer}".encode()
    profiles_topic = stack.settings.topics.profiles

    def profiles_records() -> list[tuple[bytes, bytes | None]]:
        read = asyncio.run(read_topics(stack.settings.bootstrap, [profiles_topic]))
        return [(k, v) for k, v in read[profiles_topic] if k == key]

    def links() -> list[Any]:
        url = f"{stack.settings.worker_url}/identity/demo/{browser}"
        return list(httpx.get(url, timeout=10).json()["links"])

    # Only the removal of an inactive profile writes its tombstone (an erasure would too,
    # and none is asked for here).
    wait_for(lambda: None in [v for _, v in profiles_records()], 90, "a tombstone")
    assert latest_values(profiles_records())[key] is None
    worker = stack.settings.worker_url
    assert httpx.get(f"{worker}/profiles/demo/{customer}", timeout=10).status_code == 404
    alive = httpx.get(f"{worker}/profiles/demo/anon-{kept}", timeout=10)
    assert alive.status_code == 200, alive.text
    assert alive.json()["event_count"] == 3, alive.text
    wait_for(lambda: links() == [], 30, "the browser's link to the customer forgotten")
    names = changelogs(stack, asyncio.run(topic_names(stack.settings.bootstrap)))
    tables = asyncio.run(read_topics(stack.settings.bootstrap, names))
    for table in ("profiles", "identity"):
        rows = next(rows for name, rows in tables.items() if name.endswith(f"-{table}-changelog"))
        latest = latest_values(rows)
        stored_key = json.dumps(f"demo:{customer if table == 'profiles' else browser}").encode()
        assert stored_key in latest, table  # it was stored, then removed
        assert latest[stored_key] is None, table
    # Raw events have a retention of their own (none here): the visits are still counted.
    wait_for(lambda: stored_browser(sql, browser) == len(old), 60, "the events in SQL")


def stored_browser(sql: SqlClient, browser: str) -> int:
    return count(sql, "SELECT count() AS n FROM events WHERE anonymous_id = {b:String}", b=browser)
