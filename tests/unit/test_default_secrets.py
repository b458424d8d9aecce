"""Production refuses the secrets published in this repository; demo mode accepts them.

The demo site's keys, the default admin token and the Kubernetes Secret's ``change-me``
placeholders are readable by anyone: a deployment that keeps one is open to everyone.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError
from pydantic_settings import BaseSettings

from base.config import (
    DEFAULT_ADMIN_TOKEN,
    DEMO_SECRET_KEY,
    DEMO_WRITE_KEY,
    KNOWN_SECRETS,
    Mode,
    default_secrets,
    sha256_hex,
)
from collector.settings import DEMO_SITE, CollectorSettings, Site
from footfall.stack import Stack, StackSettings
from sinks.settings import SinkSettings
from stream_processors.settings import WorkerSettings
from tests.unit.test_deploy_manifests import DEPLOY, SETTINGS
from webhooks.settings import WebhookSettings

PRODUCTION = Mode.production.value


def own_site() -> Site:
    return Site.model_validate(
        {"site_id": "shop", "write_key": secrets.token_hex(16), "secret_key": secrets.token_hex(16)}
    )


# ------------------------------------------------------------------ the pure finder


@pytest.mark.parametrize("secret", sorted(KNOWN_SECRETS))
def test_every_published_secret_is_found_plain_and_hashed(secret: str) -> None:
    found = default_secrets({"admin_token": secret, "sites": [{"key_sha256": sha256_hex(secret)}]})
    assert [(f.path, f.variable) for f in found] == [
        ("admin_token", "FOOTFALL_ADMIN_TOKEN"),
        ("sites[0].key_sha256", "FOOTFALL_SITES"),
    ]
    assert "SHA-256" not in found[0].what
    assert "SHA-256" in found[1].what


def test_a_dsn_password_counts_and_other_values_do_not() -> None:
    found = default_secrets(
        {
            "clickhouse_url": "http://footfall:change-me@clickhouse:8123/footfall",
            "group_id": "footfall-admins",
            "topic_prefix": "footfall.",
            "partitions": 4,
        }
    )
    assert [f.variable for f in found] == ["FOOTFALL_CLICKHOUSE_URL"]
    assert default_secrets({"admin_token": secrets.token_urlsafe(32), "url": "http://[::1"}) == []


# ------------------------------------------------------------------ the settings base


def _refused(settings: type[BaseSettings], **values: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        settings(mode=PRODUCTION, **values)
    return str(caught.value)


ADMIN_TOKEN_SETTINGS = [SinkSettings, WebhookSettings, StackSettings]


@pytest.mark.parametrize("settings", ADMIN_TOKEN_SETTINGS, ids=lambda s: s.__name__)
@pytest.mark.parametrize("token", [DEFAULT_ADMIN_TOKEN, "change-me"])
def test_production_refuses_the_default_admin_token(
    settings: type[BaseSettings], token: str
) -> None:
    message = _refused(settings, admin_token=token)
    assert "admin_token is " in message
    assert "set FOOTFALL_ADMIN_TOKEN" in message  # names the setting and what to do
    assert "secrets.token_urlsafe" in message
    assert "FOOTFALL_MODE=demo" in message  # and the way back for a development machine


@pytest.mark.parametrize(
    ("key", "field"), [(DEMO_WRITE_KEY, "write_key_sha256"), (DEMO_SECRET_KEY, "secret_key_sha256")]
)
def test_production_refuses_each_demo_site_key(key: str, field: str) -> None:
    mine = own_site()
    keys = {"write_key_sha256": mine.write_key_sha256, "secret_key_sha256": mine.secret_key_sha256}
    site = mine.model_copy(update=keys | {field: sha256_hex(key)})
    message = _refused(CollectorSettings, sites=[own_site(), site])
    assert f"sites[1].{field} is {KNOWN_SECRETS[key]} {key!r} as its SHA-256" in message
    assert "set FOOTFALL_SITES" in message
    assert re.search(r"sites\[0\]", message) is None  # the site with its own keys is fine


def test_production_refuses_the_collector_default_sites() -> None:
    message = _refused(CollectorSettings)
    assert "sites[0].write_key_sha256" in message
    assert "sites[0].secret_key_sha256" in message


def test_production_refuses_a_published_kafka_password_and_dsn_password() -> None:
    assert "kafka_sasl_password" in _refused(WorkerSettings, kafka_sasl_password="change-me")
    dsn = "http://footfall:change-me@clickhouse:8123/footfall"
    message = _refused(SinkSettings, clickhouse_url=dsn, admin_token=secrets.token_urlsafe(32))
    assert "clickhouse_url (its password)" in message


def test_production_starts_with_secrets_of_its_own() -> None:
    token = secrets.token_urlsafe(32)
    assert SinkSettings(mode=PRODUCTION, admin_token=token).mode is Mode.production
    assert WebhookSettings(mode=PRODUCTION, admin_token=token).admin_token == token
    assert CollectorSettings(mode=PRODUCTION, sites=[own_site()]).sites[0].site_id == "shop"
    assert WorkerSettings(mode=PRODUCTION).mode is Mode.production  # holds no secret


def test_demo_mode_is_the_default_and_accepts_the_demo_secrets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``footfall up``, ``footfall demo`` and the tests run on the demo site unchanged."""
    monkeypatch.delenv("FOOTFALL_MODE", raising=False)
    assert StackSettings().mode is Mode.demo
    assert StackSettings().admin_token == DEFAULT_ADMIN_TOKEN
    assert SinkSettings().admin_token == DEFAULT_ADMIN_TOKEN
    assert WebhookSettings().admin_token == DEFAULT_ADMIN_TOKEN
    assert CollectorSettings().sites == [DEMO_SITE]
    assert CollectorSettings(mode="demo").sites == [DEMO_SITE]


def test_the_local_stack_runs_every_process_in_its_own_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stack's children get its mode: demo for a plain ``footfall up``."""
    monkeypatch.delenv("FOOTFALL_MODE", raising=False)
    modes = {
        child.name: child.env.get("FOOTFALL_MODE")
        for child in Stack(StackSettings(data_dir=tmp_path)).children
    }
    assert {modes[name] for name in ("collector", "worker", "sink", "webhooks")} == {"demo"}
    token = secrets.token_urlsafe(32)
    strict = Stack(StackSettings(data_dir=tmp_path, mode=PRODUCTION, admin_token=token))
    assert {c.env.get("FOOTFALL_MODE") for c in strict.children if c.name != "broker"} == {
        PRODUCTION
    }


def test_the_mode_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOOTFALL_MODE", PRODUCTION)
    with pytest.raises(ValidationError, match="FOOTFALL_ADMIN_TOKEN"):
        SinkSettings()
    monkeypatch.setenv("FOOTFALL_ADMIN_TOKEN", secrets.token_urlsafe(32))
    assert SinkSettings().mode is Mode.production


# ------------------------------------------------------------------ the deploy manifests


def _kubernetes_envs(
    secret_values: dict[str, str] | None,
) -> Iterator[tuple[str, str, dict[str, str]]]:
    """(container, module, the environment it gets): ConfigMap, literal values, Secret refs."""
    docs = [
        doc
        for path in sorted((DEPLOY / "kubernetes").glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if doc
    ]
    config = next(doc["data"] for doc in docs if doc["kind"] == "ConfigMap")
    secret = next(doc["stringData"] for doc in docs if doc["kind"] == "Secret")
    for doc in docs:
        if doc["kind"] not in {"Deployment", "StatefulSet"}:
            continue
        for container in doc["spec"]["template"]["spec"]["containers"]:
            env = dict(config)
            for item in container.get("env", []):
                ref = item.get("valueFrom", {}).get("secretKeyRef")
                if ref is not None:
                    env[item["name"]] = (secret_values or secret)[ref["key"]]
                elif "value" in item:
                    env[item["name"]] = item["value"]
            yield container["name"], container["command"][-1], env


def _compose_envs(substitute: str) -> Iterator[tuple[str, str, dict[str, str]]]:
    """Each Footfall service's environment, every ``${VAR:?…}`` given ``substitute``."""
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    for name, service in compose["services"].items():
        if "command" in service:
            env = {
                key: re.sub(r"\$\{[^}]*\}", substitute, str(value))
                for key, value in service["environment"].items()
            }
            yield name, service["command"][-1], env


def _load(module: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> BaseSettings:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("FOOTFALL_CONFIG", raising=False)
    return SETTINGS[module]()


def _fresh_secrets() -> dict[str, str]:
    token = secrets.token_urlsafe(32)
    sites = "[" + own_site().model_dump_json() + "]"
    return {
        "FOOTFALL_ADMIN_TOKEN": token,
        "CLICKHOUSE_URL": f"http://footfall:{token}@clickhouse:8123/footfall",
        "FOOTFALL_SITES": sites,
    }


def test_the_image_runs_in_production_mode() -> None:
    assert "ENV FOOTFALL_MODE=production" in (DEPLOY / "Dockerfile").read_text()


def test_every_kubernetes_container_runs_in_production_mode(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    containers = list(_kubernetes_envs(_fresh_secrets()))
    assert {module for _, module, _ in containers} == set(SETTINGS)
    for container, module, env in containers:
        with monkeypatch.context() as scoped:
            loaded = _load(module, env, scoped)
        assert loaded.mode is Mode.production, container  # type: ignore[attr-defined]


def test_kubernetes_refuses_the_secret_placeholders_until_they_are_replaced(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    refused = set()
    for name, module, env in _kubernetes_envs(None):
        if "FOOTFALL_ADMIN_TOKEN" not in env:
            continue
        with monkeypatch.context() as scoped, pytest.raises(ValidationError, match="change-me"):
            _load(module, env, scoped)
        refused.add(name)
    assert refused == {"sink", "webhooks"}


def test_every_compose_service_runs_in_production_and_refuses_demo_secrets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    services = list(_compose_envs(substitute=secrets.token_urlsafe(32)))
    assert {module for _, module, _ in services} == set(SETTINGS)
    for name, module, env in services:
        if "FOOTFALL_SITES" in env:  # a JSON list, not a token
            env["FOOTFALL_SITES"] = _fresh_secrets()["FOOTFALL_SITES"]
        with monkeypatch.context() as scoped:
            loaded = _load(module, env, scoped)
        assert loaded.mode is Mode.production, name  # type: ignore[attr-defined]
    for _, module, env in _compose_envs(substitute=DEFAULT_ADMIN_TOKEN):
        if "FOOTFALL_ADMIN_TOKEN" in env:
            refusal = pytest.raises(ValidationError, match="set FOOTFALL_ADMIN_TOKEN")
            with monkeypatch.context() as scoped, refusal:
                _load(module, env, scoped)
