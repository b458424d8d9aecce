"""Who reads what through the dashboard: the sink's SQL endpoint decides, by the visitor's token.

The sink's endpoint runs in this process over the embedded engine (uvicorn on a free port); the
dashboard is the real app, in process, pointed at it.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import clickhouse_connect
import pytest
import uvicorn
from clickhouse_connect.driver.client import Client
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dashboard.app import create_app
from dashboard.settings import DashboardSettings
from footfall.stack import free_port, port_open
from sinks.clickhouse import insert_rows
from sinks.migrate import migrate_up
from sinks.query_api import query_router
from sinks.rows import EVENTS, PROFILES
from sinks.settings import SinkSettings

ADMIN = "test-admin"
SITE_A = "token-of-a"

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


def empty(store: Client) -> None:
    for (name,) in store.query("SHOW TABLES").result_rows:
        store.command(f"DROP TABLE IF EXISTS `{name}`")


def event(site: str, who: str, kind: str, **props: object) -> dict[str, object]:
    return {
        "event_id": str(uuid.uuid4()),
        "site_id": site,
        "type": kind,
        "anonymous_id": f"b-{who}",
        "customer_id": who,
        "session_id": f"s-{who}",
        "occurred_at": "2026-11-02T10:00:00Z",
        "properties": props,
    }


@pytest.fixture(scope="module")
def dashboard() -> Iterator[TestClient]:
    store = clickhouse_connect.get_client(dsn="chdb://memory")
    empty(store)
    migrate_up(store)
    events = [
        event("a", "cust-a", "page_view"),
        event("a", "cust-a", "order_placed", order_id="o1", total="30", currency="EUR", items=[]),
        event("b", "cust-b", "page_view"),
        event("b", "cust-b", "page_view"),
    ]
    insert_rows(store, "events", EVENTS.columns, [EVENTS.to_row(e) for e in events])
    profiles = [
        {"site_id": s, "profile_id": f"cust-{s}", "version": 1, "event_count": 1} for s in "ab"
    ]
    insert_rows(store, "profiles", PROFILES.columns, [PROFILES.to_row(p) for p in profiles])
    app = FastAPI()
    sink = SinkSettings(admin_token=ADMIN, site_tokens={SITE_A: "a"})
    app.include_router(query_router(sink, lambda: store))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not port_open(port):
        time.sleep(0.05)
    settings = DashboardSettings(
        sql_url=f"http://127.0.0.1:{port}", worker_url="http://127.0.0.1:9"
    )
    yield TestClient(create_app(settings))
    server.should_exit = True
    thread.join(10)
    empty(store)


def as_(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_nothing_is_served_without_a_token_the_endpoint_accepts(dashboard: TestClient) -> None:
    assert dashboard.get("/api/meta").status_code == 401
    assert dashboard.get("/api/meta", headers=as_("guess")).status_code == 401
    assert dashboard.post("/api/login", json={"token": "guess"}).status_code == 401
    signed_in = dashboard.post("/api/login", json={"token": ADMIN})
    assert signed_in.status_code == 200
    assert "httponly" in signed_in.headers["set-cookie"].lower()
    dashboard.cookies.clear()


def test_the_admin_reads_every_site(dashboard: TestClient) -> None:
    sites = dashboard.get("/api/meta", headers=as_(ADMIN)).json()["sites"]
    assert sorted(s["site_id"] for s in sites) == ["a", "b"]
    totals = dashboard.get("/api/chart/overview/totals", params={"site": "b"}, headers=as_(ADMIN))
    assert totals.json()[0]["rows"][0]["events"] == 2


def test_a_sites_token_reads_only_its_site(dashboard: TestClient) -> None:
    sites = dashboard.get("/api/meta", headers=as_(SITE_A)).json()["sites"]
    assert [s["site_id"] for s in sites] == ["a"]
    other = dashboard.get("/api/chart/overview/totals", params={"site": "b"}, headers=as_(SITE_A))
    assert other.json()[0]["rows"][0]["events"] == 0
    own = dashboard.get("/api/chart/overview/totals", params={"site": "a"}, headers=as_(SITE_A))
    assert own.json()[0]["rows"][0]["orders"] == 1


def test_the_live_lookup_is_asked_only_for_a_profile_the_token_reads(
    dashboard: TestClient,
) -> None:
    refused = dashboard.get("/api/live/b/cust-b", headers=as_(SITE_A))
    assert refused.status_code == 404
    asked = dashboard.get("/api/live/a/cust-a", headers=as_(SITE_A))
    assert asked.status_code == 503  # allowed: the worker (nothing at port 9) was asked
    assert "no worker answers" in asked.json()["detail"]
