"""The deployment files start modules that exist, with settings those modules read.

A typo in an environment variable would otherwise be ignored silently by pydantic-settings
(``extra="ignore"``) and a production pod would run on defaults.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic_settings import BaseSettings

from collector.settings import CollectorSettings
from sinks.settings import SinkSettings
from stream_processors.settings import WorkerSettings
from webhooks.settings import WebhookSettings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
SETTINGS: dict[str, type[BaseSettings]] = {
    "collector": CollectorSettings,
    "stream_processors": WorkerSettings,
    "sinks": SinkSettings,
    "webhooks": WebhookSettings,
}
NOT_SETTINGS = {"POD_NAME"}  # inputs to other variables, read by Kubernetes only


def names_read_by(settings: type[BaseSettings]) -> set[str]:
    names = set()
    for field, info in settings.model_fields.items():
        names.add(f"FOOTFALL_{field.upper()}")
        alias = info.validation_alias
        choices = getattr(alias, "choices", None)
        for choice in choices or ([alias] if isinstance(alias, str) else []):
            names.add(str(choice))
    return names


def kubernetes_containers() -> Iterator[tuple[str, list[str], set[str]]]:
    config: dict[str, Any] = {}
    documents = []
    for path in sorted((DEPLOY / "kubernetes").glob("*.yaml")):
        documents += [(path.name, doc) for doc in yaml.safe_load_all(path.read_text()) if doc]
    for _, doc in documents:
        if doc["kind"] == "ConfigMap":
            config = doc["data"]
    for name, doc in documents:
        if doc["kind"] in {"Deployment", "StatefulSet"}:
            for container in doc["spec"]["template"]["spec"]["containers"]:
                env = {item["name"] for item in container.get("env", [])}
                yield f"{name}:{container['name']}", container["command"], env | set(config)


def compose_services() -> Iterator[tuple[str, list[str], set[str]]]:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    for name, service in compose["services"].items():
        if "command" in service:
            yield f"compose:{name}", service["command"], set(service["environment"])


CONTAINERS = list(kubernetes_containers()) + list(compose_services())


def test_every_footfall_process_is_deployed_both_ways() -> None:
    modules = {(where.split(":")[0] == "compose", command[-1]) for where, command, _ in CONTAINERS}
    for module in SETTINGS:
        assert (True, module) in modules, f"docker-compose does not run {module}"
        assert (False, module) in modules, f"the Kubernetes manifests do not run {module}"


@pytest.mark.parametrize(("where", "command", "env"), CONTAINERS, ids=[c[0] for c in CONTAINERS])
def test_container_runs_a_module_that_reads_every_variable_it_is_given(
    where: str, command: list[str], env: set[str]
) -> None:
    assert command[:2] == ["python", "-m"], f"{where}: run a Footfall module with python -m"
    module = command[2]
    assert importlib.util.find_spec(f"{module}.__main__") is not None, f"{where}: no {module}"
    unread = env - names_read_by(SETTINGS[module]) - NOT_SETTINGS
    assert not unread, f"{where}: {module} ignores {sorted(unread)}"
