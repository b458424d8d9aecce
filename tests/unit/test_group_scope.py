"""Two deployments on one Kafka cluster, told apart by their topic prefix, share no consumer
group and no Faust changelog topic (they would read each other's offsets and tables)."""

from __future__ import annotations

from sinks.settings import SinkSettings
from stream_processors.settings import WorkerSettings
from webhooks.settings import WebhookSettings


def groups(prefix: str | None = None, **explicit: str) -> set[str]:
    options = {} if prefix is None else {"topic_prefix": prefix}
    webhooks = WebhookSettings(**options)  # type: ignore[arg-type]
    return {
        WorkerSettings(**options, **explicit).app_id,  # type: ignore[arg-type]
        SinkSettings(**options).group_id,  # type: ignore[arg-type]
        webhooks.group_id,
        webhooks.retry_group_id,
    }


def test_the_default_prefix_keeps_the_names_deployments_already_have() -> None:
    assert groups() == {
        "footfall-worker",
        "footfall-clickhouse-sink",
        "footfall-webhooks",
        "footfall-webhooks-retry",
    }


def test_a_prefix_of_its_own_gives_groups_of_its_own() -> None:
    assert groups("eu.").isdisjoint(groups("us."))
    assert groups("eu.").isdisjoint(groups())
    assert "eu.footfall-worker" in groups("eu.")


def test_a_group_named_explicitly_is_kept() -> None:
    assert "legacy-worker" in groups("eu.", app_id="legacy-worker")
