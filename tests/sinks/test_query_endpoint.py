"""The sink's SQL endpoint speaks ClickHouse's HTTP interface to real clients.

A real uvicorn server on a free port serves the endpoint over the embedded engine; the
clients are clickhouse-connect's own HTTP client and plain HTTP requests as curl sends them.
"""

from __future__ import annotations

import base64
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import clickhouse_connect
import pytest
import uvicorn
from fastapi import FastAPI

from footfall.stack import free_port, port_open
from sinks.engine import EngineClient, reads_of
from sinks.query_api import query_router
from sinks.settings import SinkSettings

TOKEN = "test-admin-token"

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    store = clickhouse_connect.get_client(dsn="chdb://memory")
    store.command("DROP TABLE IF EXISTS endpoint_probe")
    store.command("CREATE TABLE endpoint_probe (n UInt32, s String) ENGINE = MergeTree ORDER BY n")
    store.command("INSERT INTO endpoint_probe SELECT number, toString(number) FROM numbers(10)")
    app = FastAPI()
    app.include_router(
        query_router(SinkSettings(admin_token=TOKEN, query_max_result_rows=5000), lambda: store)
    )
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not port_open(port):
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)
    store.command("DROP TABLE IF EXISTS endpoint_probe")


def http(
    url: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, str]:
    request = urllib.request.Request(url, data=body, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_clickhouse_connect_queries_unchanged(endpoint: str) -> None:
    port = int(endpoint.rsplit(":", 1)[1])
    client = clickhouse_connect.get_client(
        host="127.0.0.1", port=port, username="default", password=TOKEN
    )
    result = client.query(
        "SELECT n, s FROM endpoint_probe WHERE n < {top:UInt32} ORDER BY n", parameters={"top": 3}
    )
    assert result.result_rows == [(0, "0"), (1, "1"), (2, "2")]
    assert client.query("SELECT count() FROM endpoint_probe").result_rows == [(10,)]
    client.close()


def test_get_with_query_parameter_and_basic_auth(endpoint: str) -> None:
    query = urllib.parse.urlencode({"query": "SELECT sum(n) FROM endpoint_probe"})
    auth = base64.b64encode(f"default:{TOKEN}".encode()).decode()
    assert http(f"{endpoint}/?{query}", headers={"Authorization": f"Basic {auth}"}) == (200, "45\n")


def test_post_body_with_clickhouse_headers_and_format(endpoint: str) -> None:
    headers = {"X-ClickHouse-User": "default", "X-ClickHouse-Key": TOKEN}
    status, text = http(
        f"{endpoint}/?param_n=4",
        b"SELECT s FROM endpoint_probe WHERE n = {n:UInt32} FORMAT JSONEachRow",
        headers,
    )
    assert (status, text) == (200, '{"s":"4"}\n')
    status, text = http(
        f"{endpoint}/?default_format=CSV", b"SELECT n, s FROM endpoint_probe WHERE n = 1", headers
    )
    assert (status, text) == (200, '1,"1"\n')


def test_wrong_token_is_refused(endpoint: str) -> None:
    headers = {"X-ClickHouse-User": "default", "X-ClickHouse-Key": "wrong"}
    status, _ = http(f"{endpoint}/", b"SELECT 1", headers)
    assert status == 401


def test_writes_are_refused_and_nothing_changes(endpoint: str) -> None:
    headers = {"X-ClickHouse-User": "default", "X-ClickHouse-Key": TOKEN}
    for statement in (
        b"INSERT INTO endpoint_probe VALUES (99, 'x')",
        b"DROP TABLE endpoint_probe",
    ):
        status, _ = http(f"{endpoint}/", statement, headers)
        assert status == 403, statement
    # A second statement does not parse as one: ClickHouse's syntax error, a 400.
    status, text = http(f"{endpoint}/", b"SELECT 1; DROP TABLE endpoint_probe", headers)
    assert (status, "Multi-statements are not allowed" in text) == (400, True)
    assert http(f"{endpoint}/", b"SELECT count() FROM endpoint_probe", headers) == (200, "10\n")


def test_result_size_limit(endpoint: str) -> None:
    headers = {"X-ClickHouse-User": "default", "X-ClickHouse-Key": TOKEN}
    status, text = http(f"{endpoint}/", b"SELECT number FROM numbers(100000)", headers)
    assert status == 400
    assert "limit" in text.lower()


def test_the_database_parameter_names_the_store_and_nothing_else(endpoint: str) -> None:
    port = int(endpoint.rsplit(":", 1)[1])
    client = clickhouse_connect.get_client(
        host="127.0.0.1", port=port, username="default", password=TOKEN, database="default"
    )
    assert client.query("SELECT count() FROM endpoint_probe").result_rows == [(10,)]
    client.close()
    query = urllib.parse.urlencode({"query": "SELECT 1", "database": "elsewhere"})
    status, body = http(f"{endpoint}/?{query}", headers={"X-ClickHouse-Key": TOKEN})
    assert status == 404
    assert "UNKNOWN_DATABASE" in body
    assert "'default'" in body
    headers = {"X-ClickHouse-Key": TOKEN, "X-ClickHouse-Database": "default"}
    assert http(f"{endpoint}/", b"SELECT sum(n) FROM endpoint_probe", headers) == (200, "45\n")


@pytest.mark.timeout(90)
def test_a_long_read_does_not_hold_up_the_sinks_inserts(tmp_path: Path) -> None:
    """The endpoint's reads run on the engine's read channel, beside the sink's inserts."""
    engine = EngineClient(f"chdb://{tmp_path / 'store'}")
    try:
        engine.command("CREATE TABLE t (n UInt64) ENGINE = MergeTree ORDER BY n")
        slow = (
            "SELECT count() FROM numbers(1e12) WHERE NOT ignore(sipHash64(number)) "
            "SETTINGS max_execution_time = 5, timeout_overflow_mode = 'break'"
        )
        read = threading.Thread(target=reads_of(engine).raw_query, args=(slow,))
        read.start()
        time.sleep(1)
        started = time.monotonic()
        engine.command("INSERT INTO t SELECT number FROM numbers(100)")
        delay = time.monotonic() - started
        assert read.is_alive()  # the insert finished while the read still ran
        read.join()
        assert delay < 2.0
        assert engine.query("SELECT count() FROM t").result_rows == [(100,)]
    finally:
        engine.close()
