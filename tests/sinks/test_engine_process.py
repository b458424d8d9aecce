"""The embedded store in its own process: same answers as the client, owned, and never orphaned."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from clickhouse_connect.driver.exceptions import DatabaseError

from sinks.clickhouse import StoreLocked, insert_rows
from sinks.engine import EngineClient, EngineGone
from sinks.migrate import migrate_up
from sinks.rows import EVENTS, to_row
from tests.sinks.test_cookbook import event

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[EngineClient]:
    client = EngineClient(f"chdb://{tmp_path / 'store'}")
    yield client
    client.close()


def test_statements_run_in_the_engine_process_and_answer_like_the_client(
    engine: EngineClient,
) -> None:
    assert engine.process.pid != os.getpid()
    migrate_up(engine)
    rows = [
        to_row(EVENTS, orjson.dumps(event("page_view", f"c{n}", "2026-11-02T08:50:00Z", "s")))
        for n in range(3)
    ]
    insert_rows(engine, "events", EVENTS.columns, rows)
    answer = engine.query(
        "SELECT anonymous_id FROM events WHERE site_id = {site:String} ORDER BY anonymous_id",
        parameters={"site": rows[0][1]},
    )
    assert answer.column_names == ("anonymous_id",)
    assert answer.result_rows == [(row[3],) for row in sorted(rows, key=lambda r: r[3])]
    assert engine.command("SELECT count() FROM events") == 3
    assert engine.raw_query("SELECT count() AS n FROM events FORMAT JSONEachRow") == b'{"n":3}\n'


def test_an_engine_error_reaches_the_caller_as_a_clickhouse_error(engine: EngineClient) -> None:
    with pytest.raises(DatabaseError, match="UNKNOWN_TABLE"):
        engine.query("SELECT * FROM no_such_table")
    assert engine.command("SELECT 1") == 1  # the engine process goes on


def test_the_engine_process_owns_the_directory_until_it_is_closed(tmp_path: Path) -> None:
    dsn = f"chdb://{tmp_path / 'store'}"
    first = EngineClient(dsn)
    try:
        with pytest.raises(StoreLocked):
            EngineClient(dsn)
    finally:
        first.close()
    assert first.process.returncode == 0
    second = EngineClient(dsn)
    second.close()


def test_a_dead_engine_process_is_reported_not_waited_for(engine: EngineClient) -> None:
    engine.process.send_signal(signal.SIGKILL)
    engine.process.wait(10)
    with pytest.raises(EngineGone, match=r"gone|ended"):
        engine.command("SELECT 1")


def test_the_engine_process_ends_when_the_sink_disappears(tmp_path: Path) -> None:
    engine = EngineClient(f"chdb://{tmp_path / 'store'}")
    engine.conn.close()  # what the kernel does to the sink's end when the sink is killed
    assert engine.process.wait(30) == 0
