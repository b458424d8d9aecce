"""Abuse limits: rate limits per key and per IP, and the slow-body deadline."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.collector.conftest import KafkaSpace, Uvicorn, collector_settings
from tests.collector.events import page_view

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


def send(client: TestClient, key: str) -> int:
    body = {"write_key": key, "batch": [page_view()]}
    return client.post("/v1/batch", json=body).status_code


def test_a_key_over_its_rate_limit_gets_429_with_retry_after(
    broker: KafkaSpace, make_client: Callable[..., TestClient]
) -> None:
    client = make_client(collector_settings(broker, rate_limit_per_key="5/minute"))
    assert [send(client, "a-write") for _ in range(5)] == [200] * 5
    throttled = client.post("/v1/batch", json={"write_key": "a-write", "batch": [page_view()]})
    assert throttled.status_code == 429
    assert 1 <= int(throttled.headers["retry-after"]) <= 60
    assert send(client, "a-secret") == 200  # another key keeps its own budget
    assert send(client, "b-write") == 200


def test_one_ip_over_its_rate_limit_gets_429_whatever_the_key(
    broker: KafkaSpace, make_client: Callable[..., TestClient]
) -> None:
    settings = collector_settings(broker, rate_limit_per_ip="3/minute")
    client = make_client(settings, "198.51.100.7")
    other_ip = make_client(settings, "198.51.100.8")
    assert [send(client, k) for k in ("a-write", "b-write", "a-secret")] == [200] * 3
    assert send(client, "b-secret") == 429
    assert send(other_ip, "b-secret") == 200


def test_a_body_that_trickles_in_too_slowly_gets_408(broker: KafkaSpace, tmp_path: Path) -> None:
    settings = collector_settings(broker)
    server = Uvicorn(settings, tmp_path / "collector.log", {"FOOTFALL_BODY_TIMEOUT_S": "1"})
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(
                b"POST /v1/batch HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
                b'Content-Length: 1000\r\n\r\n{"write_key"'
            )
            answer = sock.recv(4096)
        assert answer.startswith(b"HTTP/1.1 408"), answer
    finally:
        server.stop()
