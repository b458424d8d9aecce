"""The whole stack against a Kafka cluster that demands SASL: the settings reach every client.

The broker is a real Apache Kafka node whose client listener is SASL_PLAINTEXT with the PLAIN
mechanism (TLS certificates cannot be issued here without a CA, so SSL itself is not run;
it shares the code path that builds the options).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka.errors import KafkaError
from pydantic import SecretStr

from base.config import BrokerKind, FootfallSettings
from base.kafka import client_options, ensure_topics
from base.sqlclient import SqlClient
from footfall.brokers import BrokerProcess, KafkaBroker, free_port, metadata_answers
from footfall.demo.report import wait_until_queryable
from footfall.demo.sender import send_all
from footfall.stack import Stack
from tests.conftest import TEST_BROKER, stack_settings_for
from tests.integration.test_end_to_end import synthetic_events

pytestmark = [
    pytest.mark.integration,
    pytest.mark.timeout(240),
    pytest.mark.skipif(TEST_BROKER is not BrokerKind.kafka, reason="needs Apache Kafka"),
]

USER, PASSWORD = "shop", "shop-secret"
JAAS = (
    "org.apache.kafka.common.security.plain.PlainLoginModule required "
    'username="admin" password="admin-secret" '
    f'user_admin="admin-secret" user_{USER}="{PASSWORD}";'
)


def sasl_listener(port: int, controller_port: int) -> dict[str, str]:
    return {
        "listeners": f"SASL_PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"SASL_PLAINTEXT://127.0.0.1:{port}",
        "listener.security.protocol.map": "SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT",
        "inter.broker.listener.name": "SASL_PLAINTEXT",
        "sasl.enabled.mechanisms": "PLAIN",
        "sasl.mechanism.inter.broker.protocol": "PLAIN",
        "listener.name.sasl_plaintext.plain.sasl.jaas.config": JAAS,
    }


CLIENT_ENV = {
    "FOOTFALL_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
    "FOOTFALL_KAFKA_SASL_MECHANISM": "PLAIN",
    "FOOTFALL_KAFKA_SASL_USERNAME": USER,
    "FOOTFALL_KAFKA_SASL_PASSWORD": PASSWORD,
}


@pytest.fixture
def sasl_broker(tmp_path: Path) -> Iterator[BrokerProcess]:
    port, controller = free_port(), free_port()
    broker = KafkaBroker(
        tmp_path / "sasl-kafka",
        port,
        controller,
        extra=sasl_listener(port, controller),
        probe_options={
            "security_protocol": "SASL_PLAINTEXT",
            "sasl_mechanism": "PLAIN",
            "sasl_plain_username": USER,
            "sasl_plain_password": PASSWORD,
        },
    )
    with BrokerProcess(broker, tmp_path / "sasl-kafka.log") as running:
        yield running


def test_the_stack_runs_on_a_sasl_cluster(
    sasl_broker: BrokerProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert not metadata_answers(sasl_broker.bootstrap), "the listener must refuse plaintext"
    for name, value in CLIENT_ENV.items():
        monkeypatch.setenv(name, value)  # read by this process's settings and the children
    settings = FootfallSettings(kafka_bootstrap_servers=sasl_broker.bootstrap)
    assert client_options(settings)["sasl_plain_password"] == PASSWORD
    wrong = settings.model_copy(update={"kafka_sasl_password": SecretStr("wrong")})
    with pytest.raises((KafkaError, RuntimeError)):
        asyncio.run(ensure_topics(wrong, timeout=5))

    events = synthetic_events(customers=20, total=200)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", sasl_broker.bootstrap)
    run = stack_settings_for(tmp_path / "stack", own_broker=True)  # the SASL one, from the env
    assert run.external_kafka == sasl_broker.bootstrap
    with Stack(run) as stack:
        stack.start()
        report = asyncio.run(send_all(run.collector_url, [("demo-secret-key", events)]))
        assert report.accepted == len(events)
        sql = SqlClient(run.sink_url, run.admin_token)
        try:
            wait_until_queryable(sql, len(events), timeout=120)
            assert sql.scalar("SELECT count() FROM events") == len(events)
            profiled = "SELECT sum(event_count) FROM profiles FINAL WHERE merged_into = ''"
            assert sql.scalar(profiled) == len(events)
        finally:
            sql.close()
