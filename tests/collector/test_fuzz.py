"""Thousands of malformed bodies: never a 5xx other than 503, never a stack trace."""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.checks import (
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.schemas import BaseSchema

from collector.app import create_app
from tests.collector.conftest import (
    KafkaSpace,
    Uvicorn,
    collector_settings,
    shared_space,
    wait_ready,
)
from tests.collector.events import page_view

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
def broker() -> KafkaSpace:
    return shared_space()


@pytest.fixture(scope="module")
def client(broker: KafkaSpace) -> Iterator[TestClient]:
    app_settings = collector_settings(broker, rate_limit_per_key="1000000/second")
    with TestClient(create_app(app_settings), raise_server_exceptions=False) as running:
        wait_ready(running)
        yield running


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


# ------------------------------------------------- schemathesis, from the OpenAPI document

BEYOND_SCHEMA_REASONS = re.compile(
    r"occurred_at|sent_at|unknown fields|nested deeper|bytes as JSON|not a JSON value|64-bit"
)
"""The per-event checks the document states in words because JSON Schema cannot express
them (``collector.openapi.BEYOND_SCHEMA``): times, extra fields, depth, size."""


@pytest.fixture(scope="module")
def served(broker: KafkaSpace, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Uvicorn]:
    """The collector under uvicorn, as deployed (a child process, stopped by its PID)."""
    app_settings = collector_settings(broker)
    log = tmp_path_factory.mktemp("served") / "collector.log"
    server = Uvicorn(app_settings, log, {"FOOTFALL_RATE_LIMIT_PER_KEY": "1000000/second"})
    yield server
    server.stop()


@pytest.fixture(scope="module")
def collector_api(served: Uvicorn) -> BaseSchema:
    return schemathesis.openapi.from_url(f"{served.url}/openapi.json")


@pytest.fixture(scope="module")
def native_cases(collector_api: BaseSchema) -> st.SearchStrategy[Case]:
    return operations(collector_api, r"^/v1/(batch|event)$")


@pytest.fixture(scope="module")
def any_cases(collector_api: BaseSchema) -> st.SearchStrategy[Case]:
    return operations(collector_api)


def operations(api: BaseSchema, path_regex: str | None = None) -> st.SearchStrategy[Case]:
    """Cases of every documented operation (or those whose path matches), positive and
    negative, drawn with schemathesis' strategies inside an ordinary hypothesis test."""
    chosen = api.include(path_regex=path_regex) if path_regex else api
    return st.one_of(
        [
            result.ok().as_strategy(generation_mode=mode)
            for result in chosen.get_all_operations()
            for mode in GenerationMode
        ]
    )


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_documented_bodies_are_answered_as_documented(
    native_cases: st.SearchStrategy[Case], served: Uvicorn, data: st.DataObject
) -> None:
    """Events drawn from the document's own schemas: the answer always matches the document
    (never a 5xx), and an event the schema allows is refused only for a stated reason."""
    case = data.draw(native_cases)
    response = case.call(base_url=served.url, headers={"X-Footfall-Key": "a-secret"})
    case.validate_response(
        response,
        checks=[not_a_server_error, status_code_conformance, response_schema_conformance],
    )
    if response.status_code == 200 and is_positive(case):
        for rejection in response.json()["rejected"]:
            assert BEYOND_SCHEMA_REASONS.search(rejection["reason"]), rejection


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_no_operation_answers_a_server_error(
    any_cases: st.SearchStrategy[Case], served: Uvicorn, data: st.DataObject
) -> None:
    """Every documented operation, the Segment-compatible ones included, with drawn and
    deliberately wrong inputs."""
    case = data.draw(any_cases)
    case.validate_response(case.call(base_url=served.url), checks=[not_a_server_error])


def is_positive(case: Case) -> bool:
    """Whether schemathesis meant the case to conform to the schema."""
    return bool(case.meta and case.meta.generation.mode.is_positive)
