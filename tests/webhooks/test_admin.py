"""The admin API and the ``footfall webhooks`` commands against a running dispatcher."""

from __future__ import annotations

import tomllib
import uuid
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from base.config import Topics
from footfall.cli import app
from tests.webhooks.conftest import ADMIN_TOKEN, produce, subscription, wait_for
from tests.webhooks.receiver import Receiver
from tests.webhooks.test_delivery import NOW, order

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


def test_cli_adds_tests_lists_and_removes_a_subscription(
    receiver: Receiver, make_dispatcher: Any, topics: Topics, monkeypatch: pytest.MonkeyPatch
) -> None:
    dispatcher = make_dispatcher([])
    monkeypatch.setenv("FOOTFALL_ADMIN_TOKEN", ADMIN_TOKEN)
    cli = CliRunner()
    at = ["--url", dispatcher.url]

    refused = cli.invoke(
        app,
        [
            "webhooks",
            "add",
            "--site",
            "shop",
            "--endpoint",
            "http://169.254.169.254/x",
            "--event",
            "order.placed",
            *at,
        ],
    )
    assert refused.exit_code == 1
    assert "metadata" in refused.output

    added = cli.invoke(
        app,
        [
            "webhooks",
            "add",
            "--id",
            "crm",
            "--site",
            "shop",
            "--endpoint",
            receiver.url("ok"),
            "--event",
            "order.placed",
            "--secret",
            receiver.secret,
            *at,
        ],
    )
    assert added.exit_code == 0, added.output
    listed = cli.invoke(app, ["webhooks", "list", *at])
    assert "crm" in listed.output
    assert receiver.secret not in listed.output

    tested = cli.invoke(app, ["webhooks", "test", "crm", *at])
    assert tested.exit_code == 0, tested.output
    (hit,) = receiver.hits("ok")
    assert hit.verified
    assert hit.body is not None
    assert hit.body["type"] == "webhook.test"

    produce(dispatcher.bootstrap, topics.events, [order("mia", 1)])
    wait_for(lambda: len(receiver.hits("ok")) == 2, 30, "the order webhook")
    metrics = httpx.get(
        f"{dispatcher.url}/metrics", headers={"X-Admin-Token": ADMIN_TOKEN}, timeout=5
    ).text
    assert 'footfall_webhook_attempts_total{result="delivered",subscription="crm"} 2.0' in metrics
    assert 'footfall_webhook_success_ratio{subscription="crm"} 1.0' in metrics
    assert "footfall_webhook_backlog" in metrics

    removed = cli.invoke(app, ["webhooks", "remove", "crm", *at])
    assert removed.exit_code == 0, removed.output
    saved = tomllib.loads((dispatcher.data_dir / "subscriptions.toml").read_text())
    assert saved.get("subscription", []) == []
    assert dispatcher.admin("GET", "/subscriptions").json() == []


def test_410_gone_disables_the_subscription_and_announces_it(
    broker: str, receiver: Receiver, make_dispatcher: Any, topics: Topics
) -> None:
    dispatcher = make_dispatcher(
        [
            subscription(receiver, "gone", ["review.low_rating"]),
            subscription(receiver, "ok", ["webhook.disabled"]),
        ]
    )
    review = {
        "event_id": str(uuid.uuid4()),
        "type": "review",
        "site_id": "shop",
        "anonymous_id": "browser-rita",
        "customer_id": "rita",
        "occurred_at": NOW,
        "properties": {"product_id": "p9", "rating": 1, "text": "broke on day one"},
    }
    happy = review | {
        "event_id": str(uuid.uuid4()),
        "properties": {"product_id": "p9", "rating": 5},
    }
    produce(broker, topics.events, [("shop:browser-rita", review), ("shop:browser-rita", happy)])

    wait_for(lambda: len(receiver.hits("ok")) == 1, 30, "the webhook.disabled event")
    assert len(receiver.hits("gone")) == 1
    announced = receiver.hits("ok")[0].body
    assert announced is not None
    assert announced["type"] == "webhook.disabled"
    assert announced["data"]["subscription_id"] == "gone"
    assert "410" in announced["data"]["reason"]
    (gone,) = [s for s in dispatcher.admin("GET", "/subscriptions").json() if s["id"] == "gone"]
    assert gone["enabled"] is False
