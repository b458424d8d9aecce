"""The admin API against hostile input, in process: no broker, no dispatcher process.

Any Unicode in a subscription survives the subscriptions file and a restart; every bad
endpoint URL is a 422 with its reason; without the token nothing names a subscription.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from schemas.webhooks import Subscription
from tests.webhooks.conftest import ADMIN_TOKEN
from webhooks.admin import admin_router, install_error_handlers, refused_body
from webhooks.dispatcher import Dispatcher
from webhooks.metrics import DeliveryMetrics
from webhooks.safety import UnsafeUrl, split_url
from webhooks.sender import Sender
from webhooks.service import create_app
from webhooks.settings import DeliveryPolicy, WebhookSettings
from webhooks.state import DispatcherState
from webhooks.subscriptions import SubscriptionStore, from_toml, to_toml

PUBLIC_URL = "https://93.184.215.14/hooks/footfall"  # a literal public address: no DNS
TRICKY = [
    "😀 shop",
    "𝄞 clef, 🏳️‍🌈 flag, 👩🏽‍💻",
    "quotes \" and ' and \"\"\" and '''",
    "new\nline, crlf\r\n, tab\t, nul \x00, del \x7f, bell \x07",
    "back\\slash \\u00e9 \\ud83d",
    "[[subscription]]\nid = 'injected'",
    "\u2028 line separator, \ufeff BOM, \u202e right-to-left",
]


class AuditRecorder:
    """Stands in for the Kafka producer: the admin routes under test produce only their
    audit rows (what reaches Kafka is the delivery tests' and the stack tests' business)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []

    async def send_and_wait(self, topic: str, value: bytes, key: bytes | None = None) -> None:
        self.sent.append((topic, value))


@pytest.fixture
def dispatcher(tmp_path: Path) -> Iterator[Dispatcher]:
    settings = WebhookSettings(admin_token=ADMIN_TOKEN, data_dir=tmp_path)
    state = DispatcherState(settings.state_path)
    found = Dispatcher(
        settings,
        SubscriptionStore(settings.subscriptions_path),
        state,
        Sender(settings.webhooks),
        cast(AIOKafkaProducer, AuditRecorder()),
        DeliveryMetrics(),
    )
    yield found
    state.close()


@pytest.fixture
def client(dispatcher: Dispatcher) -> Iterator[TestClient]:
    app = FastAPI()
    install_error_handlers(app)  # as the dispatcher's create_app does
    app.include_router(admin_router(dispatcher))
    with TestClient(app, raise_server_exceptions=False) as running:
        yield running


ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def new_subscription(**fields: Any) -> dict[str, Any]:
    return {"site_id": "shop", "url": PUBLIC_URL, "events": ["order.placed"]} | fields


# ------------------------------------------------------------------ Unicode round trip


@given(
    site_id=st.text(min_size=1, max_size=128),
    description=st.text(),
    segments=st.lists(st.text(), max_size=3),
    path=st.text(),
)
def test_any_text_round_trips_through_the_subscriptions_file(
    site_id: str, description: str, segments: list[str], path: str
) -> None:
    subscription = Subscription(
        id="crm",
        site_id=site_id,
        url=PUBLIC_URL + path,
        secret="whsec_" + description + "x" * 8,
        description=description,
        events=["segment.entered"],
        segments=segments,
        disabled_reason=description or None,
    )
    assert from_toml(to_toml([subscription])) == [subscription]


@pytest.mark.parametrize("text", TRICKY)
def test_unicode_added_over_the_api_survives_a_restart(
    client: TestClient, dispatcher: Dispatcher, text: str
) -> None:
    body = new_subscription(id="crm", site_id=text, description=text, segments=[text])
    added = client.post("/v1/subscriptions", json=body, headers=ADMIN)
    assert added.status_code == 201, added.text
    restarted = SubscriptionStore(dispatcher.settings.subscriptions_path)  # strict, as at start
    (kept,) = restarted.all()
    assert (kept.id, kept.site_id, kept.description, kept.segments) == ("crm", text, text, [text])
    assert "\\ud83d\\ude00" not in dispatcher.settings.subscriptions_path.read_text("utf-8")


def test_a_lone_surrogate_is_a_422_not_a_broken_file(
    client: TestClient, dispatcher: Dispatcher
) -> None:
    raw = b'{"site_id": "shop \\ud800", "url": "%s", "events": ["order.placed"]}' % (
        PUBLIC_URL.encode()
    )
    refused = client.post(
        "/v1/subscriptions", content=raw, headers=ADMIN | {"Content-Type": "application/json"}
    )
    assert refused.status_code == 422, refused.text
    assert "not valid Unicode" in refused.text
    assert not dispatcher.settings.subscriptions_path.exists()


def test_the_dispatcher_app_answers_refused_bodies_in_ascii_json(tmp_path: Path) -> None:
    """The fixture above installs the handler as ``create_app`` does; this holds it there."""
    app = create_app(WebhookSettings(admin_token=ADMIN_TOKEN, data_dir=tmp_path))
    assert app.exception_handlers[RequestValidationError] is refused_body


# ------------------------------------------------------------------ endpoint URLs

BAD_URLS = [
    ("http://[::1", "not a valid URL"),
    ("http://[::1]:99999/", "not a valid URL"),
    ("http://[zz]/", "not a valid URL"),
    ("ftp://hooks.example/x", "scheme 'ftp'"),
    ("javascript:alert(1)", "scheme 'javascript'"),
    ("", "scheme ''"),
    ("hooks.example/x", "scheme ''"),
    ("http://", "no host"),
    ("https://:443/x", "no host"),
    ("http://u:p@hooks.example/", "credentials"),
    ("http://hooks.example:0/", "bad port"),
    ("http://hooks.example:-1/", "not a valid URL"),
    ("http://hooks.example:http/", "not a valid URL"),
    ("http://hooks .example/", "whitespace"),
    ("http://hooks.example/\n", "whitespace"),
    ("http://hooks\x00.example/", "control characters"),
    ("http://" + "a" * 64 + ".example/", "empty label or one over 63"),
    ("http://a..example/", "empty label"),
    ("http://./", "empty label"),
    ("http://" + "a." * 130 + "example/", "longer than 253"),
    ("https://hooks.example/" + "x" * 2100, "at most 2048 characters"),
    ("http://127.0.0.1:8080/", "loopback"),
    ("http://169.254.169.254/latest", "metadata"),
    ("http://hooks.invalid/", "did not resolve"),
]


@pytest.mark.parametrize(("url", "reason"), BAD_URLS, ids=[u[:30] for u, _ in BAD_URLS])
def test_every_bad_endpoint_url_is_a_422_with_its_reason(
    client: TestClient, url: str, reason: str
) -> None:
    refused = client.post("/v1/subscriptions", json=new_subscription(url=url), headers=ADMIN)
    assert refused.status_code == 422, refused.text
    assert reason in refused.json()["detail"]


@given(st.text(max_size=60))
def test_split_url_refuses_or_accepts_but_never_raises_anything_else(tail: str) -> None:
    for url in (tail, "http://" + tail, "https://[" + tail, "http://x:" + tail):
        with contextlib.suppress(UnsafeUrl):
            split_url(url)


# ------------------------------------------------------------------ health and metrics


@pytest.fixture
def busy(dispatcher: Dispatcher) -> Dispatcher:
    """A dispatcher that has delivered to, and holds deliveries for, one subscription."""
    dispatcher.endpoint("crm-4f2a").held = 3
    dispatcher.metrics.observe("crm-4f2a", "delivered", 12.0)
    dispatcher.metrics.backlog.labels("crm-4f2a").set(3)
    dispatcher.counts["delivered"] += 1
    return dispatcher


def test_health_without_the_token_shows_totals_only(client: TestClient, busy: Dispatcher) -> None:
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.json() == {
        "status": "ok",
        "held": 3,
        "profiles_cached": 0,
        "counts": {"delivered": 1},
    }
    assert "crm-4f2a" not in health.text
    wrong = client.get("/healthz", headers={"Authorization": "Bearer footfall-admin"})
    assert "crm-4f2a" not in wrong.text
    assert client.get("/healthz", headers=ADMIN).json()["held_by_subscription"] == {"crm-4f2a": 3}


def test_metrics_need_the_token(client: TestClient, busy: Dispatcher) -> None:
    refused = client.get("/metrics")
    assert refused.status_code == 401
    assert "crm-4f2a" not in refused.text
    metrics = client.get("/metrics", headers={"X-Admin-Token": ADMIN_TOKEN})
    assert metrics.status_code == 200
    assert 'footfall_webhook_backlog{subscription="crm-4f2a"} 3.0' in metrics.text


def test_the_policy_default_allows_no_internal_network() -> None:
    """The 422s above for loopback and metadata rely on this default."""
    assert DeliveryPolicy().allow_networks == []
