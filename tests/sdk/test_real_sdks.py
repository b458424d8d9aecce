"""The official Segment and RudderStack SDKs, unmodified, against the whole local stack.

Each SDK is configured the way its migration note in the README says (only its URL
changes) and plays the same shopper's session (:mod:`tests.sdk.session`); every message it
sent is then found in ClickHouse by its id with its type, customer and totals, nothing of it
in the DLQ, and the customer's profile adds up. One stack serves the whole module (the
``sql`` fixture of tests/conftest.py reads this module's ``stack``).
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from rudderstack.analytics.client import Client as RudderClient
from segment.analytics.client import Client as SegmentClient

from base.sqlclient import SqlClient
from collector.segment_mapping import event_id_of
from footfall.stack import Stack, free_port
from tests.browser.conftest import chromium  # noqa: F401 (a fixture)
from tests.conftest import stack_settings_for
from tests.sdk.session import ORDER_TOTAL, Call, session
from tests.sdk.shop import shop_server

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

HERE = Path(__file__).parent
NODE_MODULES = HERE / "node_modules"
ANALYTICS_NEXT = NODE_MODULES / "@segment" / "analytics-next" / "dist" / "umd"
WRITE_KEY, SECRET_KEY = "demo-write-key", "demo-secret-key"


def need_npm_package(path: Path) -> None:
    """The npm packages come from deploy/local/install.sh; without node they are skipped,
    except in CI, which has node and must run these tests."""
    if path.exists():
        return
    note = f"{path} missing: run deploy/local/install.sh (needs node and npm)"
    if os.environ.get("CI") == "true" or shutil.which("node"):
        pytest.fail(note)
    pytest.skip(note)


def demo_sites(*origins: str) -> str:
    """``FOOTFALL_SITES`` with the demo site, its pages allowed at ``origins``."""
    site = {"site_id": "demo", "write_key": WRITE_KEY, "secret_key": SECRET_KEY}
    return orjson.dumps([site | {"allowed_origins": list(origins)}]).decode()


@pytest.fixture(scope="module")
def shop_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, shop_port: int) -> Iterator[Stack]:
    """The local stack, its demo site also allowing the shop's origin (another port)."""
    settings = stack_settings_for(tmp_path_factory.mktemp("sdk"))
    with pytest.MonkeyPatch.context() as env:
        env.setenv(
            "FOOTFALL_SITES", demo_sites(settings.collector_url, f"http://127.0.0.1:{shop_port}")
        )
        with Stack(settings) as running:
            running.start()
            env.undo()
            yield running


def eventually(check: Callable[[], None], timeout: float = 90) -> None:
    """Run ``check`` until it passes (the sink and the worker catch up asynchronously)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            check()
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def check_stored(
    sql: SqlClient, calls: list[Call], sent: list[dict[str, Any]], user: str, order_id: str
) -> None:
    """Every sent message is one event with the right type, customer and content."""
    assert len(sent) == len(calls), sent
    ids = [event_id_of(message["messageId"]) for message in sent]
    listed = ", ".join(f"'{uuid.UUID(i)}'" for i in ids)
    query = (
        "SELECT toString(event_id) AS id, type, customer_id, anonymous_id, order_id, "
        f"toString(order_total) AS total, properties FROM events FINAL WHERE event_id IN ({listed})"
    )

    def all_there() -> None:
        rows = {row["id"]: row for row in sql.rows(query)}
        assert set(rows) == set(ids), f"{len(rows)} of {len(ids)} stored"
        for call, message, event_id in zip(calls, sent, ids, strict=True):
            row = rows[event_id]
            props = orjson.loads(row["properties"])
            assert row["type"] == call.expect, (call, row)
            assert row["customer_id"] == (user if call.identified else ""), (call, row)
            if call.call == "alias":
                assert row["anonymous_id"] == call.previous_id
            if call.expect == "order_placed":
                assert (row["order_id"], Decimal(row["total"])) == (order_id, ORDER_TOTAL)
                assert [i["quantity"] for i in props["items"]] == [2, 1]
            if call.expect == "page_view":
                assert props == {"name": call.name, "category": call.category}, message
            if call.expect == "custom":
                assert props["name"] == call.event
            if call.call == "identify":
                traits = props["traits"]
                assert (traits["email"], traits["address.city"]) == ("ada@example.com", "Lyon")
            if call.call == "group":
                traits = props["traits"]
                assert (traits["company.id"], traits["company.plan"]) == ("acme", "gold")

    eventually(all_there)
    dlq = f"SELECT count() FROM dlq_events WHERE event_id IN ({listed})"
    assert int(sql.scalar(dlq)) == 0


def check_profile(sql: SqlClient, user: str, page_views: int) -> None:
    query = (
        "SELECT orders, toString(revenue) AS revenue, page_views, product_views, cart_adds "
        "FROM profiles FINAL WHERE profile_id = {user:String}"
    )

    def adds_up() -> None:
        rows = sql.rows(query, {"user": user})
        assert rows, f"no profile for {user}"
        profile = rows[0]
        assert (int(profile["orders"]), Decimal(profile["revenue"])) == (1, ORDER_TOTAL)
        counts = [int(profile[k]) for k in ("page_views", "product_views", "cart_adds")]
        assert counts == [page_views, 1, 3]

    eventually(adds_up)


def python_session(client: Any, user: str, anonymous: str, calls: list[Call]) -> list[Any]:
    """The session with segment-analytics-python or rudder-sdk-python (the same API)."""
    sent = []
    for call in calls:
        who = {"anonymous_id": anonymous} | ({"user_id": user} if call.identified else {})
        if call.call == "track":
            _, message = client.track(event=call.event, properties=call.properties, **who)
        elif call.call in ("page", "screen"):
            _, message = getattr(client, call.call)(
                name=call.name, category=call.category, properties=call.properties, **who
            )
        elif call.call == "identify":
            _, message = client.identify(traits=call.traits, **who)
        elif call.call == "group":
            _, message = client.group(group_id=call.group_id, traits=call.traits, **who)
        else:
            _, message = client.alias(previous_id=call.previous_id, user_id=user)
        sent.append(message)
    client.flush()
    client.shutdown()
    return sent


@pytest.mark.parametrize(
    ("sdk", "amount_field"), [("segment", "total"), ("rudderstack", "revenue")]
)
def test_python_sdks(stack: Stack, sql: SqlClient, sdk: str, amount_field: str) -> None:
    user, anonymous, order_id = (f"{sdk}-{part}-{uuid.uuid4().hex[:8]}" for part in "uao")
    calls = session(order_id, amount_field, previous_id=f"{anonymous}-old")
    errors: list[Any] = []
    host = f"{stack.settings.collector_url}/segment"
    options = {"host": host, "on_error": lambda error, _: errors.append(error), "max_retries": 2}
    Client = SegmentClient if sdk == "segment" else RudderClient
    client = Client(write_key=SECRET_KEY, **options)
    sent = python_session(client, user, anonymous, calls)
    assert errors == []
    check_stored(sql, calls, sent, user, order_id)
    check_profile(sql, user, page_views=3)


def basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


def test_every_call_on_every_path_with_every_way_of_giving_the_key(
    stack: Stack, sql: SqlClient
) -> None:
    """Long and short paths, batch and import, the root /v1/batch, the key as basic auth or
    in the body: every message stored, none in the DLQ."""
    now = datetime.now(UTC).isoformat()
    calls = {
        "track": {"event": "Product Viewed", "properties": {"product_id": "p1"}},
        "identify": {"userId": "c-1", "traits": {"email": "c@example.com"}},
        "page": {"name": "Home"},
        "screen": {"name": "Cart"},
        "group": {"userId": "c-1", "groupId": "acme", "traits": {"name": "Acme"}},
        "alias": {"userId": "c-1", "previousId": "old"},
    }
    run = uuid.uuid4().hex[:8]
    requests: list[tuple[str, dict[str, Any], dict[str, str]]] = []
    for n, (call, fields) in enumerate(calls.items()):
        for path in (f"/segment/v1/{call}", f"/segment/v1/{call[0]}"):
            message = {"anonymousId": f"paths-{run}", "messageId": f"{run}{path}", "timestamp": now}
            by_body = n % 2 == 0
            body = message | fields | ({"writeKey": SECRET_KEY} if by_body else {})
            requests.append((path, body, {} if by_body else basic(SECRET_KEY)))
    for path in ("/segment/v1/batch", "/segment/v1/import", "/segment/v1/b", "/v1/batch"):
        batch = [
            {"type": call, "messageId": f"{run}{path}/{call}", "anonymousId": f"paths-{run}"}
            | fields
            for call, fields in calls.items()
        ]
        requests.append((path, {"batch": batch, "sentAt": now}, basic(SECRET_KEY)))
    # analytics-node's batch at the root with the key only in the body, too:
    root = [{"type": "page", "messageId": f"{run}/root", "anonymousId": f"paths-{run}"}]
    requests.append(("/v1/batch", {"batch": root, "writeKey": SECRET_KEY}, {}))
    sent: list[str] = []
    with httpx.Client(base_url=stack.settings.collector_url, timeout=10) as client:
        for path, body, headers in requests:
            answer = client.post(path, json=body, headers=headers)
            assert (answer.status_code, answer.json()["rejected"]) == (200, []), answer.text
            sent += [m["messageId"] for m in body.get("batch", [body])]
    ids = {event_id_of(m) for m in sent}
    listed = ", ".join(f"'{i}'" for i in sorted(ids))

    def all_there() -> None:
        query = f"SELECT toString(event_id) AS id FROM events FINAL WHERE event_id IN ({listed})"
        assert {row["id"] for row in sql.rows(query)} == ids

    eventually(all_there)
    assert int(sql.scalar(f"SELECT count() FROM dlq_events WHERE event_id IN ({listed})")) == 0


@pytest.mark.parametrize("Client", [SegmentClient, RudderClient])
def test_a_wrong_key_is_reported_by_the_python_sdks_with_its_code(
    stack: Stack, Client: type[Any]
) -> None:
    """Both SDKs raise their APIError from the error body's ``code`` and ``message``
    (rudder-sdk-python failed with ``KeyError: 'code'`` before) and give up at once."""
    errors: list[Any] = []
    host = f"{stack.settings.collector_url}/segment"
    client = Client(write_key="not-a-key", host=host, on_error=lambda e, _: errors.append(e))
    client.track(anonymous_id="a", event="Product Viewed", properties={"product_id": "p"})
    started = time.monotonic()
    client.flush()
    client.shutdown()
    assert [(e.status, e.code) for e in errors] == [(401, "unauthorized")]
    assert "write key" in errors[0].message
    assert time.monotonic() - started < 5  # not retried


def test_analytics_node(stack: Stack, sql: SqlClient) -> None:
    """@segment/analytics-node with the documented host posts to the root /v1/batch."""
    need_npm_package(NODE_MODULES / "@segment" / "analytics-node")
    user, anonymous, order_id = (f"node-{part}-{uuid.uuid4().hex[:8]}" for part in "uao")
    calls = session(order_id, "value", previous_id=f"{anonymous}-old")
    played = {"userId": user, "anonymousId": anonymous, "calls": [c.as_json() for c in calls]}
    host = f"{stack.settings.collector_url}/segment"
    node = ["node", str(HERE / "node_session.js"), host, SECRET_KEY, orjson.dumps(played).decode()]
    done = subprocess.run(node, capture_output=True, text=True, timeout=60, check=True, cwd=HERE)
    result = orjson.loads(done.stdout)
    assert set(result["statuses"]) == {200}, result["statuses"]
    check_stored(sql, calls, result["sent"], user, order_id)
    check_profile(sql, user, page_views=3)


@pytest.mark.browser
@pytest.mark.parametrize("delivery", ["standard", "batching"])
def test_analytics_next_through_the_standard_snippet(
    stack: Stack,
    sql: SqlClient,
    chromium: Any,  # noqa: F811
    shop_port: int,
    delivery: str,
) -> None:
    """The browser SDK's own bundle in Chromium, loaded by Segment's snippet from the shop's
    server (one origin) and talking to the collector (another origin) itself: the CORS
    preflights and the settings request are the browser's, for real."""
    need_npm_package(ANALYTICS_NEXT / "standalone.js")
    options: dict[str, Any] = {}
    if delivery == "batching":
        batching = {"strategy": "batching", "config": {"size": 4, "timeout": 300}}
        options["integrations"] = {"Segment.io": {"deliveryStrategy": batching}}
    html = snippet_page(f"http://127.0.0.1:{shop_port}", stack.settings.collector_url, options)
    user, order_id = (f"next-{delivery}-{p}-{uuid.uuid4().hex[:8]}" for p in "uo")
    calls = session(order_id, "total", previous_id=f"old-{user}")
    played = {"userId": user, "calls": [c.as_json() for c in calls]}
    posted: list[str] = []
    with shop_server(shop_port, html, ANALYTICS_NEXT) as shop:
        context = chromium.new_context()
        try:
            page = context.new_page()
            page.on("request", lambda r: posted.append(r.url) if r.method == "POST" else None)
            page.goto(f"{shop}/")
            page.wait_for_function("window.analytics && window.analytics.initialized")
            result = page.evaluate((HERE / "play_session.js").read_text(), played)
        finally:
            context.close()
    paths = {url.rsplit("/", 1)[-1] for url in posted}
    assert paths == ({"b"} if delivery == "batching" else {"p", "t", "i", "g", "a", "s"})
    sent = result["sent"]
    assert all(message["delivered"] for message in sent)
    check_stored(sql, calls, sent, user, order_id)
    # The browser's events: the session's but the alias (the previous id's), and the
    # snippet's own analytics.page().
    of_browser = "SELECT count() AS n FROM events FINAL WHERE anonymous_id = {a:String}"
    assert int(sql.rows(of_browser, {"a": result["anonymousId"]})[0]["n"]) == len(calls)
    check_profile(sql, user, page_views=4)


def snippet_page(shop: str, collector: str, load_options: dict[str, Any]) -> str:
    """Segment's snippet with the bundle on the shop's server and the collector as CDN."""
    return (
        (HERE / "snippet.html")
        .read_text()
        .replace("BUNDLE_HOST", shop)
        .replace("WRITE_KEY", WRITE_KEY)
        .replace("CDN_URL", f"{collector}/segment")
        .replace("LOAD_OPTIONS", orjson.dumps(load_options).decode())
    )


@pytest.fixture
def collector_without_kafka(tmp_path: Path, shop_port: int) -> Iterator[str]:
    """``python -m collector`` with no broker to reach: every event is answered 503."""
    port = free_port()
    env = os.environ | {
        "FOOTFALL_PORT": str(port),
        "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
        "FOOTFALL_SITES": demo_sites(f"http://127.0.0.1:{shop_port}"),
    }
    with (tmp_path / "collector.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "collector"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        url = f"http://127.0.0.1:{port}"
        try:
            eventually(lambda: assert_alive(url), timeout=30)
            yield url
        finally:
            process.terminate()
            process.wait(10)


def assert_alive(url: str) -> None:
    try:
        assert httpx.get(f"{url}/healthz").status_code == 200
    except httpx.TransportError as exc:
        raise AssertionError(str(exc)) from exc


@pytest.mark.browser
def test_analytics_next_retries_a_503_through_the_cors_preflight(
    collector_without_kafka: str,
    chromium: Any,  # noqa: F811
    shop_port: int,
) -> None:
    """While Kafka is down the collector answers 503; analytics.js keeps the event and
    retries it with ``X-Retry-Count``, a header its preflight must allow (else Chromium
    blocks the retry and the event is lost)."""
    need_npm_package(ANALYTICS_NEXT / "standalone.js")
    html = snippet_page(f"http://127.0.0.1:{shop_port}", collector_without_kafka, {})
    answered: list[tuple[str | None, int]] = []
    with shop_server(shop_port, html, ANALYTICS_NEXT) as shop:
        context = chromium.new_context()
        try:
            page = context.new_page()

            def on_response(response: Any) -> None:
                if response.request.method == "POST":
                    retry = response.request.headers.get("x-retry-count")
                    answered.append((retry, response.status))

            page.on("response", on_response)
            page.goto(f"{shop}/")
            page.wait_for_function("window.analytics && window.analytics.initialized")
            page.evaluate("analytics.track('Product Viewed', {product_id: 'p1'})")
            eventually(lambda: assert_retried(page, answered), timeout=30)
        finally:
            context.close()


def assert_retried(page: Any, answered: list[tuple[str | None, int]]) -> None:
    page.wait_for_timeout(500)  # lets Playwright deliver the page's events
    assert (None, 503) in answered
    assert any(retry is not None and status == 503 for retry, status in answered), answered
