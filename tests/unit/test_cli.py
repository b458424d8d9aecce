"""The CLI: every command has --help; a stack that cannot start or a missing SQL endpoint is
one clear line; the demo empties only a data dir of its own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from base.kafka import client_options
from footfall.cli import DEMO_MARK, BrokerChoice, app, claim_demo_dir, stack_settings
from footfall.stack import StackSettings, free_port


def command_paths(group: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = [prefix]
    for name, command in group.commands.items():
        if hasattr(command, "commands"):  # a group of sub-commands
            paths += command_paths(command, (*prefix, name))
        else:
            paths.append((*prefix, name))
    return paths


PATHS = command_paths(typer.main.get_command(app))


def test_the_cli_has_the_commands_the_readme_names() -> None:
    names = {" ".join(path) for path in PATHS}
    wanted = {"up", "demo", "sql", "migrate", "profile", "segments", "webhooks", "identity"}
    assert wanted <= names
    assert {"bench collector", "bench processors", "bench webhooks"} <= names


@pytest.mark.parametrize("path", PATHS, ids=[" ".join(p) or "footfall" for p in PATHS])
def test_every_command_explains_itself(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    assert "Traceback" not in result.output


def test_sql_without_an_endpoint_says_what_to_do() -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    result = CliRunner().invoke(app, ["sql", "SELECT 1", "--url", closed])
    assert result.exit_code == 2
    assert "No SQL endpoint" in result.output
    assert "footfall up" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_up_on_a_data_dir_whose_broker_state_is_gone_says_so_in_one_line(
    tmp_path: Path,
) -> None:
    (tmp_path / "worker").mkdir()
    (tmp_path / "worker" / "profiles-0.db").write_text("offsets Tansu no longer has")
    result = CliRunner().invoke(
        app, ["up", "--broker", "tansu", "--data-dir", str(tmp_path), *closed_ports()]
    )
    assert result.exit_code == 1
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert f"footfall up --reset --data-dir {tmp_path}" in line
    assert "Tansu keeps nothing across restarts" in line
    assert "--broker kafka" not in line  # this dir never held Kafka data
    assert (tmp_path / "worker" / "profiles-0.db").exists()  # nothing deleted without --reset


def closed_ports() -> list[str]:
    names = ("collector", "broker", "broker-controller", "sink", "worker", "webhooks")
    return [arg for name in names for arg in (f"--{name}-port", str(free_port()))]


def test_the_broker_comes_from_the_option_else_the_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FOOTFALL_BROKER", "tansu")
    assert stack_settings().broker == "tansu"
    assert stack_settings(broker=BrokerChoice.kafka).broker == "kafka"
    monkeypatch.delenv("FOOTFALL_BROKER")
    assert stack_settings().broker == "auto"


def test_up_explains_reset_and_broker_in_its_help() -> None:
    shown = CliRunner().invoke(app, ["up", "--help"], env={"COLUMNS": "200"}).output
    assert "--reset" in shown
    assert "logs are kept" in shown
    assert "auto|kafka|tansu" in shown
    assert "--broker-controller-port" in shown


def test_the_demo_empties_its_own_data_dir_and_keeps_its_logs(tmp_path: Path) -> None:
    demo_dir = tmp_path / "demo"
    claim_demo_dir(demo_dir)  # a new dir becomes the demo's
    (demo_dir / "clickhouse").mkdir()
    (demo_dir / "logs").mkdir()
    (demo_dir / "logs" / "sink.log").write_text("the first demo")
    claim_demo_dir(demo_dir)
    assert sorted(p.name for p in demo_dir.iterdir()) == [DEMO_MARK, "logs"]
    assert (demo_dir / "logs" / "sink.log").read_text() == "the first demo"


def test_the_demo_never_empties_a_data_dir_that_is_not_its_own(tmp_path: Path) -> None:
    (tmp_path / "clickhouse").mkdir()  # the stack's data, say --data-dir .footfall
    with pytest.raises(typer.Exit):
        claim_demo_dir(tmp_path)
    assert (tmp_path / "clickhouse").exists()


def test_every_cli_client_follows_the_local_broker_port(monkeypatch: pytest.MonkeyPatch) -> None:
    """``footfall identity undo`` and the other commands that open a Kafka client read one
    field for where Kafka is: with no ``KAFKA_BOOTSTRAP_SERVERS`` it is the local broker on
    ``FOOTFALL_BROKER_PORT``, with one it is that external cluster and no broker starts."""
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.setenv("FOOTFALL_BROKER_PORT", "29111")
    local = StackSettings()
    assert client_options(local)["bootstrap_servers"] == "127.0.0.1:29111"
    assert local.external_kafka is None
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka.internal:9092")
    external = StackSettings()
    assert client_options(external)["bootstrap_servers"] == "kafka.internal:9092"
    assert external.external_kafka == "kafka.internal:9092"


def test_segments_check_of_a_file_with_bands_says_where_they_went(tmp_path: Path) -> None:
    path = tmp_path / "segments.toml"
    path.write_text("[bands]\nrecency_days = [14, 30, 60, 120]\n")
    result = CliRunner().invoke(app, ["segments", "check", str(path)])
    assert result.exit_code == 1
    assert "[bands]" in result.output  # printed as text, not taken for markup
    assert "FOOTFALL_RULES" in result.output
