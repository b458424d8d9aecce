"""Hostile events through the real app and a real broker: never a 5xx, never a lost neighbour.

Each hostile event of a batch is refused on its own with a reason (and goes to the DLQ);
the good events of the same batch reach the events topic. A body too deep for the JSON
parser to read is refused whole with a 4xx and a reason.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from schemas.limits import INT64_MAX, MAX_JSON_DEPTH
from tests.collector.conftest import KafkaSpace, collector_settings
from tests.collector.events import order, page_view

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]
MakeClient = Callable[..., TestClient]


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"k": value}
    return value


def hostile_events() -> list[dict[str, Any]]:
    """The issues' findings: each one a 2xx that was refused later, or a 500."""
    now = datetime.now(UTC)
    return [
        page_view(occurred_at="2110-01-01T00:00:00Z"),
        page_view(
            occurred_at="9999-12-31T23:59:59Z", sent_at=(now - timedelta(days=1)).isoformat()
        ),
        page_view(
            occurred_at="0001-01-01T00:00:00Z", sent_at=(now + timedelta(days=1)).isoformat()
        ),
        page_view(occurred_at="0001-01-01T00:00:00+05:00"),
        page_view(type=["page_view"]),
        page_view(type={"page_view": 1}),
        page_view(note=nested(210)),
        page_view(note=nested(600)),
        page_view(properties=nested(600)),
        page_view(note=nested(MAX_JSON_DEPTH + 1)),
        page_view(type="custom", properties={"name": "n", "data": {"n": INT64_MAX + 1}}),
        page_view(type="search", properties={"query": "q", "results": 10**30}),
        page_view(schema_version=2**64 - 1),
    ]


def body(write_key: str, events: list[Any], **fields: Any) -> bytes:
    """JSON as any client may send it: integers of any size, nesting as deep as it likes."""
    return json.dumps({"write_key": write_key, "batch": events} | fields).encode()


def test_a_mixed_batch_keeps_its_good_events_and_explains_each_refusal(
    broker: KafkaSpace, make_client: MakeClient
) -> None:
    client = make_client(collector_settings(broker))
    hostile = hostile_events()
    good = [page_view(), order(), page_view("browser-2"), page_view("browser-3")]
    batch = good[:1] + hostile[:4] + good[1:2] + hostile[4:9] + good[2:3] + hostile[9:] + good[3:]
    hostile_at = [n for n, event in enumerate(batch) if any(event is h for h in hostile)]
    good_ids = {event["event_id"] for event in good}
    answer = client.post("/v1/batch", content=body("a-secret", batch))
    assert answer.status_code == 200, answer.text
    outcome = answer.json()
    assert outcome["accepted"] == len(good_ids)
    refused = {r["index"]: r["reason"] for r in outcome["rejected"]}
    assert sorted(refused) == hostile_at
    assert all(reason.strip() for reason in refused.values())
    assert {r["event_id"] for r in broker.read("events")} == good_ids
    dlq = broker.read("events.dlq")
    assert sorted(r["index"] for r in dlq) == sorted(refused)


def test_the_same_hostile_events_through_the_segment_api(
    broker: KafkaSpace, make_client: MakeClient
) -> None:
    client = make_client(collector_settings(broker))
    now = datetime.now(UTC).isoformat()
    good = {"type": "page", "messageId": "m-good", "anonymousId": "a", "timestamp": now}
    messages = [
        {"type": ["track"], "anonymousId": "a", "timestamp": now},
        {"type": "track", "event": "Product Viewed", "userId": nested(900), "timestamp": now},
        {"type": "track", "event": nested(900), "anonymousId": "a", "timestamp": now},
        {"type": "page", "anonymousId": "a", "timestamp": "9999-12-31T23:59:59Z"},
        good,
    ]
    raw = json.dumps({"writeKey": "a-write", "batch": messages, "sentAt": now}).encode()
    answer = client.post("/segment/v1/batch", content=raw)
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] == 1
    assert [r["index"] for r in answer.json()["rejected"]] == [0, 1, 2, 3]


def test_a_body_too_deep_to_read_gets_a_4xx_with_a_reason(
    broker: KafkaSpace, make_client: MakeClient
) -> None:
    client = make_client(collector_settings(broker))
    deep = b"[" * 10_000 + b"]" * 10_000
    raw = b'{"write_key": "a-write", "writeKey": "a-write", "batch": [' + deep + b"]}"
    for path in ("/v1/batch", "/v1/event", "/segment/v1/batch"):
        for content, headers in ((raw, {}), (gzip.compress(raw), {"content-encoding": "gzip"})):
            answer = client.post(path, content=content, headers=headers)
            assert 400 <= answer.status_code < 500, answer.text
            assert "JSON" in answer.json()["error"]
    assert client.post("/v1/batch", content=body("a-write", [page_view()])).status_code == 200
