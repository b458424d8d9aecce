"""Journeys on the real stack: a timer alone abandons a cart; a crash repeats no transition.

The worker runs with its clock two hours ahead (``FOOTFALL_CLOCK_OFFSET_S``): simulated time
for the timers, with no event sent after the cart.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from base.sqlclient import SqlClient
from footfall.demo.report import progress
from footfall.demo.sender import send_all
from footfall.segments_cli import segment_members, segment_sizes
from footfall.stack import Stack
from tests.collector.kafka_read import read_records, read_topic, write_records
from tests.conftest import stack_settings_for
from tests.integration.test_crash_recovery import send_in_background
from tests.integration.test_end_to_end import synthetic_events

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

CLOCK_AHEAD_S = 7200
KEY = "demo-secret-key"


@pytest.fixture(scope="module")
def journey_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with Stack(stack_settings_for(tmp_path_factory.mktemp("journey"))) as running:
        running.child("worker").env |= {
            "FOOTFALL_CLOCK_OFFSET_S": str(CLOCK_AHEAD_S),
            "FOOTFALL_TIMER_INTERVAL_S": "1",
        }
        running.start()
        yield running


@pytest.fixture(scope="module")
def sql(journey_stack: Stack) -> Iterator[SqlClient]:
    client = SqlClient(journey_stack.settings.sink_url, journey_stack.settings.admin_token)
    yield client
    client.close()


def wait_for(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"no {what} after {timeout:.0f}s"
        time.sleep(0.5)


def shopper_events(browser: str, cart_at: datetime) -> list[dict[str, Any]]:
    product = {"product_id": "lamp-1", "category": "home", "price": "49.00"}
    kinds = [("page_view", {}), ("product_view", product), ("cart_add", product)]
    return [
        {
            "event_id": str(uuid.uuid4()),
            "type": kind,
            "anonymous_id": browser,
            "session_id": f"{browser}-s1",
            "occurred_at": (cart_at - timedelta(minutes=len(kinds) - 1 - n)).isoformat(),
            "properties": props,
        }
        for n, (kind, props) in enumerate(kinds)
    ]


def test_a_cart_is_abandoned_by_the_timer_alone(journey_stack: Stack, sql: SqlClient) -> None:
    cart_at = datetime.now(UTC).replace(microsecond=0)
    events = shopper_events("timer-shopper", cart_at)
    report = asyncio.run(send_all(journey_stack.settings.collector_url, [(KEY, events)]))
    assert report.accepted == len(events)

    moves = wait_for(
        lambda: sql.rows(
            "SELECT from_stage, to_stage, cause, event_id, toUnixTimestamp64Milli(at) AS ms "
            "FROM journey_transitions FINAL WHERE profile_id = 'anon-timer-shopper' "
            "AND to_stage = 'cart_abandoned'"
        ),
        90,
        "cart_abandoned transition",
    )
    # Due 60 minutes (the default) after the cart add, as stored (skew-corrected).
    cart_ms = sql.scalar(
        "SELECT toUnixTimestamp64Milli(occurred_at) FROM events FINAL "
        "WHERE anonymous_id = 'timer-shopper' AND type = 'cart_add'"
    )
    assert [(m["from_stage"], m["cause"], m["event_id"], int(m["ms"])) for m in moves] == [
        ("cart", "timer:cart_abandoned", "", int(cart_ms) + 60 * 60 * 1000)
    ]
    # Nothing but the three events was ever sent for this browser.
    assert sql.scalar("SELECT count() FROM events FINAL WHERE anonymous_id = 'timer-shopper'") == 3
    entered = wait_for(
        lambda: sql.rows(
            "SELECT segment, cause FROM segment_changes FINAL "
            "WHERE profile_id = 'anon-timer-shopper' AND change = 'entered'"
        ),
        60,
        "segment entries",
    )
    assert {"segment": "cart_abandoner", "cause": "timer:cart_abandoned"} in entered
    # What `footfall segments` shows: sizes and members.
    sizes = {r["segment"]: r["members"] for r in segment_sizes(sql, ["cart_abandoner", "lost"])}
    assert sizes["cart_abandoner"] >= 1
    assert sizes["lost"] == 0
    members = segment_members(sql, "cart_abandoner")
    assert "anon-timer-shopper" in {m["profile_id"] for m in members}


def transitions(sql: SqlClient) -> list[dict[str, Any]]:
    return sql.rows(
        "SELECT profile_id, from_stage, to_stage, cause, event_id FROM journey_transitions FINAL "
        "WHERE profile_id LIKE 'c%'"
    )


def unbalanced(sql: SqlClient, customers: set[str]) -> list[str]:
    """Profiles whose transitions do not form one path from visitor to their current stage.

    Events may arrive out of order and timers may fire while older events are still on their
    way, so the path is checked by counting, not by time: every stage is left as often as it
    is entered, except visitor (left once more) and the current stage (entered once more). A
    transition lost or written twice with a different time breaks the count.
    """
    stages = {
        r["profile_id"]: r["stage"]
        for r in sql.rows(
            "SELECT profile_id, stage FROM profiles FINAL "
            "WHERE merged_into = '' AND profile_id LIKE 'c%'"
        )
    }
    balance: dict[str, Counter[str]] = defaultdict(Counter)
    for move in transitions(sql):
        balance[move["profile_id"]][move["from_stage"]] += 1
        balance[move["profile_id"]][move["to_stage"]] -= 1
    broken = []
    for customer in sorted(customers):
        expected: Counter[str] = Counter()
        if customer in stages and stages[customer] != "visitor":
            expected.update({"visitor": 1, stages[customer]: -1})
        found = {stage: n for stage, n in balance[customer].items() if n}
        if customer not in stages or found != dict(expected):
            broken.append(customer)
    return broken


def test_worker_killed_mid_stream_gives_each_transition_once(
    journey_stack: Stack, sql: SqlClient
) -> None:
    events = synthetic_events(customers=30, total=2400, seed=31)
    customers = {e["customer_id"] for e in events}
    stored_before = int(sql.scalar("SELECT count() FROM events FINAL"))
    thread, report = send_in_background(journey_stack, events)
    wait_for(lambda: progress(sql).profile_events >= stored_before + 600, 120, "folding")

    journey_stack.kill("worker")  # kill -9 in the middle of the stream
    journey_stack.restart("worker")
    thread.join(timeout=180)
    assert report.accepted == len(events)

    # Each profile's transitions form one path from visitor to its current stage.
    wait_for(lambda: not unbalanced(sql, customers), 150, "consistent journeys")
    # One read of the table (timers may still add transitions meanwhile): no transition's
    # key (profile, time, stage) holds two different rows.
    differing = sql.rows(
        "SELECT profile_id, at, to_stage, groupUniqArray((from_stage, cause, event_id)) AS rows "
        "FROM journey_transitions WHERE profile_id LIKE 'c%' "
        "GROUP BY site_id, profile_id, at, to_stage HAVING length(rows) > 1"
    )
    assert differing == [], "a replay wrote a different row for a transition"
    sent = {e["event_id"] for e in events}
    moves = transitions(sql)
    assert len(moves) > len(customers)  # buyers go through several stages
    assert all(m["event_id"] in sent for m in moves if not m["cause"].startswith("timer:"))
    assert any(m["cause"].startswith("timer:") for m in moves)


def test_a_message_read_again_sends_its_transitions_again(
    journey_stack: Stack, sql: SqlClient
) -> None:
    """What a crash replays: the profile is stored, its transitions may never have arrived.

    The re-keyed record of a cart add is produced a second time, byte for byte, as a worker
    restarted after ``kill -9`` would read it again. The stored profile already counts the
    event, so nothing is applied twice, but its transition is sent again (ClickHouse keeps one).
    """
    browser = f"replayed-{uuid.uuid4().hex[:8]}"
    events = shopper_events(browser, datetime.now(UTC).replace(microsecond=0))
    report = asyncio.run(send_all(journey_stack.settings.collector_url, [(KEY, events)]))
    assert report.accepted == len(events)
    into_cart = (
        "SELECT count() FROM journey_transitions FINAL "
        f"WHERE profile_id = 'anon-{browser}' AND to_stage = 'cart'"
    )
    wait_for(lambda: sql.scalar(into_cart), 60, "cart transition")
    bootstrap, topics = journey_stack.settings.bootstrap, journey_stack.settings.topics

    def sent_to_cart() -> int:
        records = read_topic(bootstrap, topics.journey)
        return sum(
            r["profile_id"] == f"anon-{browser}" and r["to_stage"] == "cart" for r in records
        )

    before = sent_to_cart()  # one, or more when the outbox resent under load (at least once)
    assert before >= 1
    cart_add = events[2]["event_id"]
    rekeyed = next(
        r
        for r in read_records(bootstrap, topics.identified)
        if orjson.loads(r.value).get("event", {}).get("event_id") == cart_add
    )
    write_records(bootstrap, topics.identified, [(rekeyed.key, rekeyed.value)])

    wait_for(lambda: sent_to_cart() > before, 60, "transition sent again")
    assert sql.scalar(into_cart) == 1
    folded = sql.scalar(
        f"SELECT event_count FROM profiles FINAL WHERE profile_id = 'anon-{browser}'"
    )
    assert folded == len(events)
