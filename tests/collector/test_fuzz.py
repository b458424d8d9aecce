"""Thousands of malformed bodies: never a 5xx other than 503, never a stack trace."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from footfall.brokers import start_broker
from tests.collector.conftest import collector_settings
from tests.collector.events import page_view
from tests.conftest import TEST_BROKER

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def encode(value: Any) -> bytes:
    return json.dumps(value).encode()


def containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
event_like = st.fixed_dictionaries(
    {},
    optional={
        "event_id": st.uuids().map(str) | st.text(max_size=10),
        "type": st.sampled_from(["page_view", "order_placed", "review", "nope"])
        | st.text(max_size=5),
        "anonymous_id": st.sampled_from(["a", "", "null"]) | json_values,
        "occurred_at": st.sampled_from(["2026-01-01T00:00:00Z", "yesterday"]) | json_values,
        "properties": json_values,
        "context": json_values,
        "site_id": json_values,
    },
)
bodies = st.one_of(
    st.binary(max_size=200),
    json_values.map(encode),
    st.fixed_dictionaries(
        {"write_key": st.sampled_from(["a-write", "a-secret", "wrong"]) | json_values},
        optional={
            "batch": st.lists(event_like | json_values, max_size=5) | json_values,
            "sent_at": json_values,
        },
    ).map(encode),
)
paths = st.sampled_from(
    ["/v1/batch", "/v1/event", "/segment/v1/batch", "/segment/v1/track", "/segment/v1/alias"]
)
headers = st.fixed_dictionaries(
    {},
    optional={
        "content-type": st.sampled_from(["text/plain", "application/json", "x/y"]),
        "authorization": st.sampled_from(["Basic YS13cml0ZTo=", "Basic !!", "Bearer a-write"]),
        "origin": st.sampled_from(["https://a.example", "https://evil.example", "null"]),
    },
)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    broker = start_broker(TEST_BROKER, tmp_path_factory.mktemp("fuzz"))
    app_settings = collector_settings(broker.bootstrap, rate_limit_per_key="1000000/second")
    from collector.app import create_app
    from tests.collector.conftest import wait_ready

    with TestClient(create_app(app_settings), raise_server_exceptions=False) as running:
        wait_ready(running)
        yield running
    broker.kill()


def check(answer: Any) -> None:
    assert answer.status_code < 500, answer.text
    assert "Traceback" not in answer.text
    assert "error" in answer.json() or "accepted" in answer.json()


@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
@given(path=paths, body=bodies, extra_headers=headers, zipped=st.booleans())
def test_malformed_bodies_get_a_reason_not_a_crash(
    client: TestClient, path: str, body: bytes, extra_headers: dict[str, str], zipped: bool
) -> None:
    if zipped:
        body = gzip.compress(body)
        extra_headers = extra_headers | {"content-encoding": "gzip"}
    check(client.post(path, content=body, headers=extra_headers))


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(garbage=st.binary(min_size=1, max_size=64))
def test_corrupt_gzip_and_oversized_bodies_are_refused(client: TestClient, garbage: bytes) -> None:
    answer = client.post("/v1/batch", content=garbage, headers={"content-encoding": "gzip"})
    assert answer.status_code in (400, 413)
    bomb = gzip.compress(b"[" + b"0," * 400_000 + b"0]")
    answer = client.post("/v1/batch", content=bomb, headers={"content-encoding": "gzip"})
    assert answer.status_code == 413


def test_a_valid_event_still_gets_through_after_the_fuzzing(client: TestClient) -> None:
    answer = client.post("/v1/batch", json={"write_key": "a-write", "batch": [page_view()]})
    assert answer.json()["accepted"] == 1
