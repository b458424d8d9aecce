"""The CLI: every command has --help, and an unreachable SQL endpoint is a clear message."""

from __future__ import annotations

from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from footfall.cli import app
from footfall.stack import free_port


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
