"""Consent through the real collector and broker: an event without analytics consent is
stored with nothing that identifies a person, under both per-site rules."""

from __future__ import annotations

from collections.abc import Callable

import orjson
import pytest
from fastapi.testclient import TestClient

from collector.settings import Site
from schemas.personal import hashed, reveal, site_key
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


SHOP_SEALED = Site.model_validate(
    {"site_id": "shop-sealed", "write_key": "sealed-write", "secret_key": "sealed-secret"}
    | {"personal_traits": "encrypt"}
)
SHOP_HASHED = Site.model_validate(
    {"site_id": "shop-hashed", "write_key": "hashed-write", "secret_key": "hashed-secret"}
    | {"personal_traits": "hash"}
)
KEYS = {"shop-sealed": "a key of the sealed shop", "shop-hashed": "a key of the hashed shop"}


def test_personal_traits_reach_kafka_sealed_or_hashed_as_the_site_asks(
    broker: KafkaSpace, make_client: Callable[..., TestClient]
) -> None:
    settings = collector_settings(
        broker, sites=[SHOP_A, SHOP_SEALED, SHOP_HASHED], personal_keys=KEYS
    )
    client = make_client(settings)
    traits = {"email": " Ann@Example.com", "name": "Ann Lee", "plan": "gold"}
    for key in ("a-write", "sealed-write", "hashed-write"):
        identify = page_view("browser-ann", type="identify", customer_id="ann-17")
        identify["properties"] = {"traits": traits}
        answer = client.post("/v1/batch", json={"write_key": key, "batch": [identify]})
        assert answer.json()["accepted"] == 1, answer.text
    stored = {e["site_id"]: e["properties"]["traits"] for e in broker.read("events")}
    assert stored["shop-a"] == traits  # plain: as sent
    sealed, hashed_ = stored["shop-sealed"], stored["shop-hashed"]
    assert "Ann" not in orjson.dumps([sealed, hashed_]).decode()
    assert sealed["plan"] == hashed_["plan"] == "gold"  # not personal: as sent
    key = site_key(KEYS["shop-sealed"])
    assert reveal(sealed, key, "shop-sealed") == traits
    assert hashed_["email"] == hashed(site_key(KEYS["shop-hashed"]), "ann@example.com")


def test_a_site_that_protects_personal_traits_without_a_key_is_refused_at_start(
    broker: KafkaSpace,
) -> None:
    with pytest.raises(ValueError, match="FOOTFALL_PERSONAL_KEYS"):
        collector_settings(broker, sites=[SHOP_SEALED])
