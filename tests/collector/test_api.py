"""The ingestion API against a real broker: endpoints, encodings, tenancy, routing."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from collector.settings import CollectorSettings, hash_key
from tests.collector.conftest import KafkaSpace, collector_settings
from tests.collector.events import order, page_view

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]
MakeClient = Callable[..., TestClient]


def ids(records: list[dict[str, object]]) -> set[object]:
    return {r["event_id"] for r in records}


def test_batch_event_gzip_and_text_plain_all_reach_kafka(
    broker: KafkaSpace, make_client: MakeClient
) -> None:
    client = make_client(collector_settings(broker))
    one, two, three, four = page_view(), page_view(), page_view(), page_view()
    bad = {"event_id": "x", "type": "page_view"}
    answer = client.post("/v1/batch", json={"write_key": "a-write", "batch": [one, bad]})
    assert answer.status_code == 200
    assert answer.json()["accepted"] == 1
    assert answer.json()["rejected"][0]["index"] == 1
    single = client.post("/v1/event", json=two | {"write_key": "a-write"})
    assert single.json()["accepted"] == 1
    zipped = gzip.compress(orjson.dumps({"write_key": "a-write", "batch": [three]}))
    answer = client.post("/v1/batch", content=zipped, headers={"Content-Encoding": "gzip"})
    assert answer.json()["accepted"] == 1
    plain = orjson.dumps({"write_key": "a-write", "batch": [four]})
    answer = client.post("/v1/batch", content=plain, headers={"Content-Type": "text/plain"})
    assert answer.json()["accepted"] == 1
    stored = broker.read("events")
    assert ids(stored) == {one["event_id"], two["event_id"], three["event_id"], four["event_id"]}
    assert all(r["site_id"] == "shop-a" for r in stored)
    dlq = broker.read("events.dlq")
    assert [r["payload"] for r in dlq] == [bad]


def test_a_key_of_one_site_never_writes_into_another_site(
    broker: KafkaSpace, make_client: MakeClient
) -> None:
    client = make_client(collector_settings(broker))
    forged = page_view() | {"site_id": "shop-b"}
    answer = client.post("/v1/batch", json={"write_key": "a-write", "batch": [forged]})
    assert answer.json()["accepted"] == 1
    from_b_origin = client.post(
        "/v1/batch",
        json={"write_key": "a-write", "batch": [page_view()]},
        headers={"Origin": "https://b.example"},
    )
    assert from_b_origin.status_code == 403
    unknown = client.post("/v1/batch", json={"write_key": "nope", "batch": [page_view()]})
    assert unknown.status_code == 401
    hashed = client.post("/v1/batch", json={"write_key": hash_key("a-write"), "batch": []})
    assert hashed.status_code == 401
    stored = broker.read("events")
    assert [r["site_id"] for r in stored] == ["shop-a"]
    assert stored[0]["event_id"] == forged["event_id"]


def test_cors_is_answered_per_site(broker: KafkaSpace, make_client: MakeClient) -> None:
    client = make_client(collector_settings(broker))
    preflight = {"Access-Control-Request-Method": "POST"}
    ok = client.options("/v1/batch", headers=preflight | {"Origin": "https://a.example"})
    assert ok.status_code == 204
    assert ok.headers["access-control-allow-origin"] == "https://a.example"
    evil = client.options("/v1/batch", headers=preflight | {"Origin": "https://evil.example"})
    assert evil.status_code == 403
    # The request's own Host is the client's to choose: it makes no origin allowed.
    own = client.options("/v1/batch", headers=preflight | {"Origin": "http://testserver"})
    assert own.status_code == 403


def test_money_is_trusted_only_from_the_secret_key(
    broker: KafkaSpace, make_client: MakeClient
) -> None:
    client = make_client(collector_settings(broker))
    from_browser, from_server = order(), order()
    client.post("/v1/batch", json={"write_key": "a-write", "batch": [from_browser]})
    client.post("/v1/batch", json={"batch": [from_server]}, headers={"X-Footfall-Key": "a-secret"})
    verified = {r["event_id"]: r["verified"] for r in broker.read("events")}
    assert verified == {from_browser["event_id"]: False, from_server["event_id"]: True}


def test_hot_keys_bots_and_floods_go_to_the_overflow_topic(
    broker: KafkaSpace, make_client: MakeClient
) -> None:
    client = make_client(collector_settings(broker, flood_threshold=3))
    normal = page_view("browser-1")
    placeholders = [page_view(name) for name in ("null", "undefined", "Anonymous", "0")]
    flood = [page_view("flooder") for _ in range(5)]
    batch = [normal, *placeholders, *flood]
    answer = client.post("/v1/batch", json={"write_key": "a-write", "batch": batch})
    assert answer.json()["accepted"] == len(batch)
    assert answer.json()["diverted"] == {"bot": 0, "flood": 2, "placeholder": 4}
    bot = page_view("crawler-1")
    answer = client.post(
        "/v1/batch",
        json={"write_key": "a-write", "batch": [bot]},
        headers={"User-Agent": "Mozilla/5.0 (compatible; Googlebot/2.1)"},
    )
    assert answer.json()["diverted"] == {"bot": 1, "flood": 0, "placeholder": 0}
    main = ids(broker.read("events"))
    overflow = ids(broker.read("events.overflow"))
    assert main == {normal["event_id"]} | {e["event_id"] for e in flood[:3]}
    expected = {e["event_id"] for e in [*placeholders, *flood[3:], bot]}
    assert overflow == expected


def test_duplicates_within_the_window_are_dropped(
    broker: KafkaSpace, make_client: MakeClient
) -> None:
    client = make_client(collector_settings(broker))
    event = page_view()
    first = client.post("/v1/batch", json={"write_key": "a-write", "batch": [event, event]})
    again = client.post("/v1/batch", json={"write_key": "a-write", "batch": [event]})
    assert first.json()["duplicates"] == 1
    diverted = {"bot": 0, "flood": 0, "placeholder": 0}
    assert again.json() == {"accepted": 1, "duplicates": 1, "diverted": diverted, "rejected": []}
    # The same id from another site is that site's own event, not a duplicate.
    other = client.post("/v1/batch", json={"write_key": "b-write", "batch": [event]})
    assert other.json() == {"accepted": 1, "duplicates": 0, "diverted": diverted, "rejected": []}
    stored = broker.read("events")
    assert sorted(record["site_id"] for record in stored) == ["shop-a", "shop-b"]


def test_country_comes_from_the_configured_ip_range_file(
    broker: KafkaSpace, make_client: MakeClient, tmp_path: Path
) -> None:
    ranges = tmp_path / "ranges.csv"
    ranges.write_text("start_ip,end_ip,country\n127.0.0.0,127.255.255.255,NZ\n")
    settings = collector_settings(broker, geoip_csv=ranges)
    client = make_client(settings, "127.1.2.3")
    claimed = page_view() | {"context": {"country": "US"}}
    client.post("/v1/batch", json={"write_key": "a-write", "batch": [claimed]})
    stored = broker.read("events")
    assert stored[0]["context"]["country"] == "NZ"
    assert stored[0]["context"]["ip"] == "127.1.2.0"


def test_metrics_health_and_openapi(broker: KafkaSpace, make_client: MakeClient) -> None:
    client = make_client(collector_settings(broker))
    client.post("/v1/batch", json={"write_key": "a-write", "batch": [page_view(), {"type": 1}]})
    text = client.get("/metrics").text
    accepted = f'footfall_collector_events_accepted_total{{topic="{broker.topic("events")}"'
    assert f'{accepted},type="page_view"}} 1.0' in text
    assert 'footfall_collector_events_rejected_total{reason="unknown_type",type="unknown"} 1.0' in (
        text
    )
    assert "footfall_collector_produce_seconds_count 1.0" in text
    assert 'footfall_collector_requests_total{endpoint="/v1/batch",status="200"} 1.0' in text
    assert client.get("/healthz").json() == {"status": "ok"}
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/batch", "/v1/event", "/segment/v1/track", "/metrics"} <= set(paths)


def test_keys_come_hashed_from_a_toml_file(tmp_path: Path) -> None:
    config = tmp_path / "footfall.toml"
    config.write_text(
        "[[sites]]\n"
        'site_id = "toml-shop"\n'
        f'write_key_sha256 = "{hash_key("w")}"\n'
        f'secret_key_sha256 = "{hash_key("s")}"\n'
        'allowed_origins = ["https://toml.example"]\n'
    )
    code = (
        "from collector.settings import CollectorSettings; s = CollectorSettings();"
        "print(s.sites[0].site_id, s.sites[0].write_key_sha256)"
    )
    env = os.environ | {"FOOTFALL_CONFIG": str(config)}
    env.pop("FOOTFALL_SITES", None)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, check=True)
    assert out.stdout.decode().split() == ["toml-shop", hash_key("w")]


def test_demo_keys_work_by_default() -> None:
    site = CollectorSettings().sites[0]
    assert site.write_key_sha256 == hash_key("demo-write-key")
    assert site.secret_key_sha256 == hash_key("demo-secret-key")
    assert "demo-write-key" not in site.model_dump_json()
