"""Consent through the real collector and broker: an event without analytics consent is
stored with nothing that identifies a person, under both per-site rules."""

from __future__ import annotations

from collections.abc import Callable

import orjson
import pytest
from fastapi.testclient import TestClient

from collector.settings import Site
from tests.collector.conftest import SHOP_A, KafkaSpace, collector_settings
from tests.collector.events import page_view

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

SHOP_STRICT = Site.model_validate(
    {
        "site_id": "shop-strict",
        "write_key": "strict-write",
        "secret_key": "strict-secret",
        "analytics_consent": "required",
    }
)
AGENT = "Mozilla/5.0 (X11; Linux x86_64) UniqueAgent/9.9"
PERSONAL = ("ann-17", "browser-ann", "ann@example.com", "UniqueAgent", "203.0.113", "1366x768")


def personal_events(consent: object | None) -> list[dict[str, object]]:
    context: dict[str, object] = {"url": "https://a.example/?mail=ann@example.com", "path": "/"}
    context["screen"] = "1366x768"
    if consent is not None:
        context["consent"] = consent
    view = page_view("browser-ann", customer_id="ann-17", session_id="s-ann", context=context)
    identify = page_view("browser-ann", type="identify", customer_id="ann-17", context=context)
    identify["properties"] = {"traits": {"email": "ann@example.com"}}
    return [view, identify]


def test_an_event_without_analytics_consent_stores_nothing_identifying(
    broker: KafkaSpace, make_client: Callable[..., TestClient]
) -> None:
    settings = collector_settings(broker, sites=[SHOP_A, SHOP_STRICT])
    client = make_client(settings, address="203.0.113.9")
    headers = {"User-Agent": AGENT}
    denied = {"analytics_storage": "denied", "ad_storage": "denied"}
    for key, consent in (("a-write", denied), ("strict-write", None)):
        answer = client.post(
            "/v1/batch", json={"write_key": key, "batch": personal_events(consent)}, headers=headers
        )
        assert answer.json()["accepted"] == 2, answer.text
    granted = personal_events({"analytics": True, "marketing": False})[0]
    client.post("/v1/batch", json={"write_key": "a-write", "batch": [granted]}, headers=headers)
    stored = broker.read("events")
    anonymous = [e for e in stored if e["event_id"] != granted["event_id"]]
    assert sorted(e["site_id"] for e in anonymous) == ["shop-a", "shop-strict"]  # no identify
    text = orjson.dumps(anonymous).decode()
    for secret in PERSONAL:
        assert secret not in text, secret
    for event in anonymous:
        assert event["anonymous_id"].startswith("h-")
        assert event["context"]["consent"] == {"analytics": False, "marketing": False}
        assert event["context"]["path"] == "/"
    (kept,) = [e for e in stored if e["event_id"] == granted["event_id"]]
    assert kept["customer_id"] == "ann-17"  # with consent, as before
    assert kept["context"]["consent"] == {"analytics": True, "marketing": False}
    assert "UniqueAgent" in kept["context"]["user_agent"]
    assert kept["context"]["ip"] == "203.0.113.0"
