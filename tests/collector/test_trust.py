"""What the collector believes of a request: its key decides bot diversion, its peer decides
its IP (``X-Forwarded-For`` only from trusted proxies), the per-IP limit comes before the
key, and a site's configured origins are the only ones (a ``Host`` header chooses nothing).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from collector.app import create_app
from collector.proxy import TrustedProxies
from collector.settings import CollectorSettings
from tests.collector.conftest import KafkaSpace, collector_settings, shared_space
from tests.collector.events import order, page_view
from tests.conftest import TEST_BROKER

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]
MakeClient = Callable[..., TestClient]
BACKENDS = ["curl/8.5.0", "Java/17.0.2", "Python-urllib/3.11", "python-requests/2.31.0"]
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
NOT_DIVERTED = {"bot": 0, "flood": 0, "placeholder": 0}


@pytest.fixture(scope="module")
def broker() -> KafkaSpace:
    """Topics for the module: each test reads only its own events' ids."""
    return shared_space()


@pytest.fixture
def offline() -> Iterator[Callable[[CollectorSettings, str], TestClient]]:
    """The app with no broker behind it: enough for answers given before Kafka is asked."""
    opened: list[TestClient] = []

    def make(settings: CollectorSettings, address: str) -> TestClient:
        client = TestClient(
            create_app(settings), raise_server_exceptions=False, client=(address, 1)
        )
        client.__enter__()
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)


def stored(broker: KafkaSpace, topic: str) -> dict[str, dict[str, Any]]:
    return {r["event_id"]: r for r in broker.read(topic, idle_s=1.0)}


def test_a_shop_backend_with_the_secret_key_reaches_the_events_topic(
    broker: KafkaSpace, make_client: MakeClient
) -> None:
    client = make_client(collector_settings(broker))
    from_backend, from_script = {}, {}
    for agent in BACKENDS:
        headers = {"User-Agent": agent}
        event = order()
        answer = client.post(
            "/v1/batch", json={"batch": [event]}, headers=headers | {"X-Footfall-Key": "a-secret"}
        )
        assert answer.json() == {
            "accepted": 1,
            "duplicates": 0,
            "diverted": NOT_DIVERTED,
            "rejected": [],
        }, agent
        from_backend[event["event_id"]] = agent
        # The same agent with the public key is a script, not a shopper's browser.
        script = page_view()
        answer = client.post(
            "/v1/batch", json={"write_key": "a-write", "batch": [script]}, headers=headers
        )
        assert answer.json()["diverted"]["bot"] == 1, agent
        from_script[script["event_id"]] = agent
    events, overflow = stored(broker, "events"), stored(broker, "events.overflow")
    assert set(from_backend) <= set(events)
    assert not set(from_backend) & set(overflow)
    assert all(events[event_id]["verified"] for event_id in from_backend)
    assert set(from_script) <= set(overflow)


def test_a_crawler_with_the_write_key_is_diverted_and_counted(
    broker: KafkaSpace, make_client: MakeClient
) -> None:
    client = make_client(collector_settings(broker))
    crawled = [page_view("crawler-1"), page_view("crawler-1")]
    answer = client.post(
        "/v1/batch",
        json={"write_key": "a-write", "batch": crawled},
        headers={"User-Agent": GOOGLEBOT},
    )
    assert answer.json() == {
        "accepted": 2,
        "duplicates": 0,
        "diverted": {"bot": 2, "flood": 0, "placeholder": 0},
        "rejected": [],
    }
    client.post("/v1/batch", json={"write_key": "a-write", "batch": [page_view("null")]})
    metrics = client.get("/metrics").text
    assert 'footfall_collector_events_diverted_total{reason="bot"} 2.0' in metrics
    assert 'footfall_collector_events_diverted_total{reason="placeholder"} 1.0' in metrics
    overflow = stored(broker, "events.overflow")
    assert {event["event_id"] for event in crawled} <= set(overflow)


def test_bad_keys_from_one_ip_are_rate_limited(
    offline: Callable[[CollectorSettings, str], TestClient],
) -> None:
    settings = collector_settings(KafkaSpace("127.0.0.1:1"), rate_limit_per_ip="10/minute")
    guesser, neighbour = offline(settings, "198.51.100.7"), offline(settings, "198.51.100.8")
    statuses = []
    for n in range(50):
        body = {"write_key": f"guess-{n}", "batch": [page_view()]}
        statuses.append(
            guesser.post(["/v1/batch", "/segment/v1/batch"][n % 2], json=body).status_code
        )
    assert statuses == [401] * 10 + [429] * 40
    assert guesser.post("/v1/event", content=b"not even json").status_code == 429
    assert "retry-after" in guesser.post("/v1/batch", json={}).headers
    assert neighbour.post("/v1/batch", json={"batch": []}).status_code == 401
    metrics = guesser.get("/metrics").text
    assert 'footfall_collector_throttled_total{scope="ip"} 42.0' in metrics


def test_a_rotating_forwarded_for_from_an_untrusted_peer_is_ignored(
    broker: KafkaSpace, make_client: MakeClient
) -> None:
    settings = collector_settings(broker, rate_limit_per_ip="3/minute")
    client = make_client(settings, "198.51.100.7")
    sent = []
    statuses = []
    for n in range(5):
        event = page_view()
        sent.append(event["event_id"])
        answer = client.post(
            "/v1/batch",
            json={"write_key": "a-write", "batch": [event]},
            headers={"X-Forwarded-For": f"203.0.113.{n}"},
        )
        statuses.append(answer.status_code)
    assert statuses == [200, 200, 200, 429, 429]
    events = stored(broker, "events")
    assert {events[event_id]["context"]["ip"] for event_id in sent[:3]} == {"198.51.100.0"}


def test_a_trusted_proxy_says_who_the_client_is(
    broker: KafkaSpace, make_client: MakeClient
) -> None:
    settings = collector_settings(
        broker, rate_limit_per_ip="2/minute", trusted_proxies=["10.0.0.0/8"]
    )
    proxy = make_client(settings, "10.0.0.5")

    def send(forwarded_for: str) -> tuple[int, str]:
        event = page_view()
        answer = proxy.post(
            "/v1/batch",
            json={"write_key": "a-write", "batch": [event]},
            headers={"X-Forwarded-For": forwarded_for},
        )
        return answer.status_code, event["event_id"]

    # A client may prepend anything; the proxy appends the address it saw, read from the right.
    first = send("192.0.2.99, 203.0.113.9")
    assert [send("203.0.113.9")[0] for _ in range(2)] == [200, 429]
    assert send("198.51.100.20, 10.0.0.7")[0] == 200  # another client behind two proxies
    assert first[0] == 200
    assert stored(broker, "events")[first[1]]["context"]["ip"] == "203.0.113.0"


def test_a_spoofed_host_with_a_matching_origin_is_refused(
    broker: KafkaSpace, make_client: MakeClient
) -> None:
    client = make_client(collector_settings(broker))
    spoofed = {"Host": "evil.example", "Origin": "http://evil.example"}
    body = {"write_key": "a-write", "batch": [page_view()]}
    assert client.post("/v1/batch", json=body, headers=spoofed).status_code == 403
    preflight = spoofed | {"Access-Control-Request-Method": "POST"}
    assert client.options("/v1/batch", headers=preflight).status_code == 403


def test_the_demo_shop_origin_is_the_demo_site_at_the_configured_port(
    broker: KafkaSpace, make_client: MakeClient
) -> None:
    """The shop served at ``/shop`` posts from the collector's own address: that address is
    in the demo site's origins because it is configured, not because a Host matches."""
    settings = CollectorSettings(
        kafka_bootstrap_servers=broker.bootstrap,
        broker_kind=TEST_BROKER,
        topic_prefix=broker.prefix,
        partitions=2,
        port=8765,
    )
    client = make_client(settings)
    body = {"write_key": "demo-write-key", "batch": [page_view()]}
    shop = {"Host": "127.0.0.1:8765", "Origin": "http://127.0.0.1:8765"}
    assert client.post("/v1/batch", json=body, headers=shop).status_code == 200
    elsewhere = {"Host": "127.0.0.1:9999", "Origin": "http://127.0.0.1:9999"}
    assert client.post("/v1/batch", json=body, headers=elsewhere).status_code == 403


def test_forwarded_for_is_read_from_the_right_past_trusted_hops() -> None:
    proxies = TrustedProxies.of(["10.0.0.0/8", "2001:db8::/32"])
    assert proxies.client_ip("198.51.100.1", ["203.0.113.9"]) == "198.51.100.1"
    assert proxies.client_ip("10.1.1.1", ["203.0.113.9"]) == "203.0.113.9"
    assert proxies.client_ip("10.1.1.1", ["1.1.1.1, 203.0.113.9, 10.2.2.2"]) == "203.0.113.9"
    assert proxies.client_ip("10.1.1.1", ["1.1.1.1", "203.0.113.9"]) == "203.0.113.9"
    assert proxies.client_ip("10.1.1.1", ["not-an-ip, 10.2.2.2"]) == "10.2.2.2"
    assert proxies.client_ip("2001:db8::1", ["2001:0db8:0::2, 192.0.2.5"]) == "192.0.2.5"
    assert proxies.client_ip("10.1.1.1", []) == "10.1.1.1"
    assert TrustedProxies().client_ip("127.0.0.1", ["203.0.113.9"]) == "127.0.0.1"
