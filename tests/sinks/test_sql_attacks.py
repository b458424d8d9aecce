"""The SQL endpoint under attack: nothing written, nothing outside the store reached, no 5xx.

The endpoint runs in process over the embedded engine (a migrated scratch database plus a
probe table). Every attack must come back as a 4xx with a reason (refused by the guard, or
cut by a limit) and leave no trace: no file created, no local file's content in any answer,
no connection to a local receiver, the tables and their rows unchanged.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client
from fastapi import FastAPI
from fastapi.testclient import TestClient

from base.cookbook import recipes
from sinks.query_api import query_router
from sinks.settings import SinkSettings
from sinks.sql_guard import QueryRefused, check_canonical, check_tree
from tests.sinks.scratch import scratch_database

TOKEN = "attack-admin-token"
SECRET = "footfall-secret-4f1c"

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@dataclass
class Target:
    http: TestClient
    store: Client
    secret_file: Path
    outfile: Path
    receiver: socket.socket

    def post(self, sql: str, token: str = TOKEN, **params: str) -> tuple[int, str]:
        response = self.http.post(
            "/", params=params, content=sql.encode(), headers={"X-ClickHouse-Key": token}
        )
        return response.status_code, response.text

    def state(self) -> tuple[object, ...]:
        """What an attack must not change: the databases, the tables and the probe's rows."""
        return (
            self.store.query("SELECT name FROM system.databases ORDER BY name").result_rows,
            self.store.query(
                "SELECT database, name FROM system.tables WHERE database NOT IN "
                "('system', 'INFORMATION_SCHEMA', 'information_schema') ORDER BY ALL"
            ).result_rows,
            self.store.query("SELECT count(), sum(n) FROM attack_probe").result_rows,
        )


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    files = tmp_path_factory.mktemp("attacks")
    secret_file = files / "secret.txt"
    secret_file.write_text(SECRET + "\n")
    receiver = socket.socket()
    receiver.bind(("127.0.0.1", 0))
    receiver.listen(8)
    receiver.setblocking(False)
    settings = SinkSettings(
        admin_token=TOKEN,
        query_timeout_s=2,
        query_max_memory_bytes=200_000_000,
        query_max_result_rows=10_000,
        query_max_result_bytes=1_000_000,
        query_max_bytes=64 * 1024,
        site_tokens={"token-of-a": "a", "token-of-b": "b"},
    )
    with scratch_database("attack_test") as store:
        store.command("CREATE TABLE attack_probe (n UInt32) ENGINE = MergeTree ORDER BY n")
        store.command("INSERT INTO attack_probe SELECT number FROM numbers(10)")
        store.command(
            "INSERT INTO events (site_id, event_id, type) SELECT ['a', 'b', 'b'][number + 1], "
            "generateUUIDv4(number), 'page_view' FROM numbers(3)"
        )
        app = FastAPI()
        app.include_router(query_router(settings, lambda: store))
        with TestClient(app) as http:
            yield Target(http, store, secret_file, files / "out.txt", receiver)
    receiver.close()


def attacks(target: Target) -> dict[str, list[tuple[str, dict[str, str]]]]:
    """Hostile requests by kind: (body, URL parameters)."""
    out, secret = target.outfile, target.secret_file
    receiver = f"http://127.0.0.1:{target.receiver.getsockname()[1]}/x"
    none: dict[str, str] = {}
    return {
        "into outfile": [
            (f"SELECT 'x' INTO OUTFILE '{out}'", none),
            (f"SELECT 'x' INTO OUTFILE '{out}' TRUNCATE", none),
            (f"SELECT 'x' INTO OUTFILE '{out}' APPEND FORMAT CSV", none),
            (f"SELECT 'x' INTO OUTFILE '{out}.gz' COMPRESSION 'gzip'", none),
            (f"select 'x' into /* c */ outfile '{out}'", none),
            (f"SELECT 'x' -- a comment\nINTO OUTFILE '{out}'", none),
            (f"SHOW TABLES INTO OUTFILE '{out}'", none),
            (f"DESCRIBE TABLE attack_probe INTO OUTFILE '{out}'", none),
            (f"EXPLAIN SELECT 1 INTO OUTFILE '{out}'", none),
            (f"WITH 1 AS a SELECT a INTO OUTFILE '{out}'", none),
            (f"SELECT 'x' INTO OUTFILE '{out}' AND STDOUT", none),
        ],
        "multi-statement": [
            ("SELECT 1; DROP TABLE attack_probe", none),
            ("SELECT 1;CREATE TABLE pwn (a Int8) ENGINE = Memory", none),
            ("SELECT ';'; INSERT INTO attack_probe VALUES (99)", none),
            ("SELECT 1;; SELECT 2", none),
            ("SELECT 1 /* ; */ ; DROP TABLE attack_probe", none),
        ],
        "format injection": [
            ("SELECT 1", {"default_format": "TSV; CREATE TABLE pwn (a Int8) ENGINE = Memory"}),
            ("SELECT 1", {"default_format": "TSV; DROP TABLE attack_probe"}),
            ("SELECT 1", {"default_format": "JSON SETTINGS readonly=0"}),
            ("SELECT 1", {"default_format": f"TSV INTO OUTFILE '{out}'"}),
            ("SELECT 1", {"default_format": "TSV -- "}),
            ("SELECT 1", {"default_format": "Template"}),
            ("SELECT 1 FORMAT Template", none),
            ("SELECT 1 FORMAT JSON; DROP TABLE attack_probe", none),
        ],
        "comment tricks": [
            (f"SELECT * FROM file('{secret}', 'LineAsString') --", none),
            (f"SELECT * FROM file('{secret}', 'LineAsString') #", none),
            (f"SELECT * FROM file('{secret}', 'LineAsString') /*", none),
            (f"SELECT * FROM url('{receiver}', 'LineAsString') -- ", none),
            (f"SELECT * FROM /* hi */ file('{secret}', 'LineAsString')", none),
            (f"SELECT 1 --\n; SELECT * FROM file('{secret}', 'LineAsString')", none),
            (f"SELECT * FROM numbers(1) #\nINTO OUTFILE '{out}'", none),
            ("SELECT 1 /* unterminated", none),
        ],
        "table functions": [
            (f"SELECT * FROM file('{secret}', 'LineAsString')", none),
            (f"SELECT * FROM FILE('{secret}', 'LineAsString')", none),
            (f"SELECT * FROM `file`('{secret}', 'LineAsString')", none),
            (f"SELECT file('{secret}')", none),
            (f"SELECT * FROM url('{receiver}', 'LineAsString')", none),
            (f"SELECT * FROM numbers(1) WHERE 1 IN (SELECT * FROM url('{receiver}', 'CSV'))", none),
            (f"WITH t AS (SELECT * FROM file('{secret}', 'LineAsString')) SELECT * FROM t", none),
            (f"SELECT * FROM numbers(1) JOIN file('{secret}', 'LineAsString') ON 1", none),
            (f"SELECT * FROM view(SELECT * FROM file('{secret}', 'LineAsString'))", none),
            ("SELECT * FROM remote('127.0.0.1', system.one)", none),
            ("SELECT * FROM remoteSecure('127.0.0.1', system.one)", none),
            ("SELECT * FROM cluster('default', system.one)", none),
            ("SELECT * FROM executable('id', 'TSV', 'x String')", none),
            ("SELECT * FROM s3('http://127.0.0.1:1/b/k', 'CSV')", none),
            ("SELECT * FROM input('a String')", none),
            ("SELECT * FROM mysql('127.0.0.1:1', 'd', 't', 'u', 'p')", none),
            ("SELECT * FROM postgresql('127.0.0.1:1', 'd', 't', 'u', 'p')", none),
            ("SELECT * FROM jdbc('jdbc:x', 't')", none),
            ("SELECT * FROM odbc('DSN=x', 't')", none),
            ("SELECT * FROM hdfs('hdfs://127.0.0.1:1/x', 'CSV')", none),
            ("SELECT * FROM azureBlobStorage('http://127.0.0.1:1', 'c', 'b')", none),
            ("SELECT * FROM sqlite('/tmp/x.db', 't')", none),
            ("SELECT * FROM merge('system', '.*')", none),
            ("SELECT * FROM dictionary('d')", none),
            ("SELECT * FROM generateRandom('a UInt8') LIMIT 1", none),
            ("DESCRIBE TABLE file('/etc/hostname', 'LineAsString')", none),
            ("EXPLAIN PLAN SELECT * FROM file('/etc/hostname', 'LineAsString')", none),
        ],
        "writes and admin": [
            ("INSERT INTO attack_probe VALUES (99)", none),
            ("INSERT INTO attack_probe SELECT 99", none),
            ("ALTER TABLE attack_probe DELETE WHERE 1", none),
            ("ALTER TABLE attack_probe UPDATE n = 0 WHERE 1", none),
            ("DROP TABLE attack_probe", none),
            ("TRUNCATE TABLE attack_probe", none),
            ("CREATE TABLE pwn (a Int8) ENGINE = Memory", none),
            ("CREATE TABLE pwn ENGINE = Memory AS SELECT 1", none),
            ("RENAME TABLE attack_probe TO gone", none),
            ("DETACH TABLE attack_probe", none),
            ("SYSTEM DROP MARK CACHE", none),
            ("SYSTEM SHUTDOWN", none),
            ("KILL QUERY WHERE 1", none),
            ("SET readonly = 0", none),
            ("OPTIMIZE TABLE attack_probe FINAL", none),
            ("CREATE USER pwn IDENTIFIED BY 'x'", none),
            ("GRANT ALL ON *.* TO default", none),
            ("USE system", none),
            ("EXPLAIN INSERT INTO attack_probe SELECT 99", none),
            ("EXPLAIN AST DROP TABLE attack_probe", none),
            ("SHOW PROCESSLIST", none),
            ("(INSERT INTO attack_probe VALUES (99))", none),
        ],
        "settings": [
            ("SELECT 1 SETTINGS readonly = 0", none),
            ("SELECT * FROM (SELECT 1 SETTINGS max_memory_usage = 0)", none),
            ("SELECT 1 FORMAT JSON SETTINGS max_execution_time = 0", none),
            ("SELECT 1", {"readonly": "0"}),
            ("SELECT 1", {"max_memory_usage": "0"}),
            ("SELECT 1", {"max_execution_time": "0"}),
            ("SELECT 1", {"allow_ddl": "1"}),
            ("SELECT 1", {"max_threads": "1, readonly = 0"}),
            ("SELECT 1 AS `a\n Function file`", none),
        ],
        "limits": [
            ("SELECT " + "(" * 3000 + "1" + ")" * 3000, none),
            ("SELECT " + " + ".join(["1"] * 20_000), none),
            ("SELECT '" + "x" * 10_000_000 + "'", none),
            ("SELECT number FROM numbers(1000000)", none),
            ("SELECT repeat(toString(number), 100000) FROM numbers(100)", none),
            ("SELECT length(groupArray(number)) FROM numbers(1e9)", none),
            ("SELECT count() FROM numbers(1e11) WHERE NOT ignore(sipHash64(number))", none),
            ("SELECT sleepEachRow(1) FROM numbers(100)", none),
            ("SELECT uniqExact(number) FROM numbers(1e9)", none),
        ],
    }


def no_connection_reached(receiver: socket.socket) -> bool:
    try:
        receiver.accept()[0].close()
    except BlockingIOError:
        return True
    return False


def test_every_attack_is_a_4xx_with_a_reason_and_leaves_no_trace(target: Target) -> None:
    before = target.state()
    outcomes: dict[str, list[int]] = {}
    for kind, requests in attacks(target).items():
        for sql, params in requests:
            status, text = target.post(sql, **params)
            outcomes.setdefault(kind, []).append(status)
            assert 400 <= status < 500, (kind, sql[:120], params, status, text[:300])
            assert text.strip(), (kind, sql[:120])
            assert SECRET not in text, (kind, sql[:120])
    assert not target.outfile.exists()
    assert not list(target.outfile.parent.glob("out.txt*"))
    assert no_connection_reached(target.receiver)
    assert target.state() == before
    assert sum(len(statuses) for statuses in outcomes.values()) >= 90


def test_the_limits_answer_with_clickhouse_s_reason(target: Target) -> None:
    cases = {
        "SELECT number FROM numbers(1000000)": "TOO_MANY_ROWS_OR_BYTES",
        "SELECT repeat(toString(number), 100000) FROM numbers(100)": "TOO_MANY_ROWS_OR_BYTES",
        "SELECT length(groupArray(number)) FROM numbers(1e9)": "MEMORY_LIMIT_EXCEEDED",
        "SELECT count() FROM numbers(1e11) WHERE NOT ignore(sipHash64(number))": "TIMEOUT",
    }
    for sql, reason in cases.items():
        status, text = target.post(sql)
        assert (status, reason in text) == (400, True), (sql, status, text[:300])


def test_refusals_say_why(target: Target) -> None:
    cases = {
        f"SELECT 'x' INTO OUTFILE '{target.outfile}'": "INTO OUTFILE",
        "SELECT * FROM file('x')": "file",
        "SELECT * FROM generateRandom('a UInt8')": "generateRandom is not served",
        "INSERT INTO attack_probe VALUES (1)": "only read statements",
        "SELECT 1 SETTINGS readonly = 0": "SETTINGS are set by the sink",
        "SELECT 1 FORMAT Template": "format 'Template' is not served",
    }
    for sql, reason in cases.items():
        status, text = target.post(sql)
        assert (status, reason in text) == (403, True), (sql, status, text)


def test_read_queries_still_work(target: Target) -> None:
    assert target.post("SELECT sum(n) FROM attack_probe") == (200, "45\n")
    assert target.post("SELECT n FROM attack_probe WHERE n = {n:UInt32}", param_n="3") == (
        200,
        "3\n",
    )
    assert target.post("WITH 2 AS k SELECT count() FROM attack_probe WHERE n < k") == (200, "2\n")
    assert target.post("SELECT 1 UNION ALL SELECT 2 ORDER BY 1 FORMAT CSV") == (200, "1\n2\n")
    assert target.post("SELECT 'a;b -- #' AS `x y`", default_format="JSONEachRow") == (
        200,
        '{"x y":"a;b -- #"}\n',
    )
    assert target.post("SELECT sum(number) FROM numbers(10)") == (200, "45\n")
    assert target.post("SELECT 1", output_format_json_quote_64bit_integers="1") == (200, "1\n")
    status, text = target.post("SHOW TABLES")
    assert status == 200
    assert "attack_probe" in text
    assert target.post("DESCRIBE TABLE attack_probe")[0] == 200
    assert target.post("EXISTS TABLE attack_probe") == (200, "1\n")
    assert target.post("EXPLAIN SELECT 1")[0] == 200
    assert target.post("SELECT 1;") == (200, "1\n")


def test_every_cookbook_recipe_runs_through_the_endpoint(target: Target) -> None:
    for name, chosen in recipes().items():
        given = {p.name: p.default or sample(p.type) for p in chosen.params}
        params = {f"param_{k}": v for k, v in chosen.arguments(given).items()}
        status, text = target.post(chosen.sql, default_format="JSONEachRow", **params)
        assert status == 200, (name, text[:300])


def test_a_sites_token_reads_only_that_sites_rows(target: Target) -> None:
    a = "token-of-a"
    for sql in (
        "SELECT groupUniqArray(site_id) FROM events",
        "SELECT groupUniqArray(site_id) FROM attack_test.events",
        "SELECT groupUniqArray(site_id) FROM (SELECT * FROM events)",
        "WITH e AS (SELECT site_id FROM events) SELECT groupUniqArray(site_id) FROM e",
        "SELECT groupUniqArray(e.site_id) FROM numbers(1) AS n JOIN events AS e ON 1",
        "SELECT (SELECT groupUniqArray(site_id) FROM events)",
        "SELECT groupUniqArray(site_id) FROM events WHERE site_id IN ('a', 'b') OR 1",
        "SELECT groupUniqArray(site_id) FROM people",  # a view: filtered too
        "SELECT groupUniqArray(site_id) FROM people WHERE site_id = 'b' OR 1",
    ):
        assert target.post(sql, token=a) == (200, "['a']\n"), sql
    assert target.post("SELECT count() FROM events", token="token-of-b") == (200, "2\n")
    assert target.post("SELECT count() FROM events") == (200, "3\n")  # the admin token
    assert target.post("SELECT 1 IN (SELECT 1 FROM events WHERE site_id = 'b')", token=a) == (
        200,
        "0\n",
    )
    for sql in (
        "SELECT * FROM system.tables",
        "SELECT * FROM system.query_log",
        "SELECT * FROM attack_probe",  # no site_id column
        "SELECT * FROM daily_funnel_mv",
        "SELECT count() FROM events SETTINGS additional_table_filters = {}",
    ):
        status, text = target.post(sql, token=a)
        assert status == 403, (sql, status, text)
    status, _ = target.post("SELECT count() FROM events", token=a, additional_table_filters="{}")
    assert status == 403
    assert target.post("SELECT 1", token="token-of-c")[0] == 401


def sample(kind: str) -> str:
    """A value of ClickHouse type ``kind`` for a recipe parameter without a default."""
    if kind.startswith(("UInt", "Int", "Float", "Decimal")):
        return "1"
    if kind.startswith("Date"):
        return "2026-01-01"
    return "s"


@pytest.mark.parametrize(
    "tree",
    [
        "SelectWithUnionQuery (children 1)\n ExpressionList\n   SelectQuery",  # skipped a level
        "SelectWithUnionQuery (children 1)\n\tExpressionList",  # not the tree's grammar
        "InsertQuery  t (children 1)",
        "SelectWithUnionQuery (children 1)\n ExpressionList (children 1)\n  InsertQuery",
    ],
)
def test_a_tree_the_guard_cannot_read_or_accept_is_refused(tree: str) -> None:
    with pytest.raises(QueryRefused):
        check_tree(tree)


def test_the_canonical_text_is_checked_outside_quotes_only() -> None:
    assert check_canonical("SELECT 'a;b -- # /* INTO OUTFILE'\nFORMAT JSON") == (
        "SELECT 'a;b -- # /* INTO OUTFILE'",
        "JSON",
    )
    for text in ("SELECT 1\nINTO OUTFILE 'x'", "SELECT 1; SELECT 2", "SELECT `a\\nb`"):
        with pytest.raises(QueryRefused):
            check_canonical(text)
