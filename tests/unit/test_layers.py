"""The layers hold: the base imports no process, a process imports only the base and itself,
the ``footfall`` app on top imports anything, and no module imports inside a function.

A function-level import is how a cycle hides (``a`` imports ``b`` at the top, ``b`` imports
``a`` when called); without any, Python itself refuses a cycle at import time, and this test
refuses an edge across the layers. The imports are read from the source (``ast``), so the test
needs nothing imported and names the file and line of each offence."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BASE = frozenset({"base", "schemas"})
PROCESSES = frozenset({"collector", "stream_processors", "sinks", "webhooks", "dashboard"})
APP = frozenset({"footfall"})
PACKAGES = BASE | PROCESSES | APP


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, dotted
    target: str  # the imported module, dotted
    line: int
    in_function: bool

    @property
    def where(self) -> str:
        return f"{self.module.replace('.', '/')}.py:{self.line} imports {self.target}"


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def imports_of(source: str, module: str) -> Iterator[Import]:
    """Every import statement of a module's source, absolute names, and whether a function
    body holds it. Pure."""
    tree = ast.parse(source)
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            inside.update(id(n) for n in ast.walk(node) if n is not node)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the importing package
                package = module.split(".")[: -node.level]
                targets = [".".join([*package, node.module or ""]).rstrip(".")]
            else:
                targets = [node.module or ""]
        else:
            continue
        for target in targets:
            yield Import(module, target, node.lineno, id(node) in inside)


def forbidden(edge: Import) -> str | None:
    """Why an import crosses the layers, or None when it may. Pure."""
    source, target = edge.module.split(".")[0], edge.target.split(".")[0]
    if target not in PACKAGES or target == source or source in APP:
        return None
    if source in BASE and target not in BASE:
        return "the base imports no process and not the footfall app"
    if source in PROCESSES and target in PROCESSES:
        return "a process imports no other process (share it through the base)"
    if source in PROCESSES and target in APP:
        return "a process does not import the footfall app (the app imports it)"
    return None


@cache
def project_imports() -> tuple[Import, ...]:
    """Every import of every module of the project, tests included (read once per run)."""
    return tuple(
        edge
        for package in sorted(PACKAGES | {"tests"})
        for path in sorted((ROOT / package).rglob("*.py"))
        for edge in imports_of(path.read_text(encoding="utf-8"), module_name(path))
    )


def test_no_import_crosses_the_layers() -> None:
    offences = [f"{e.where}: {why}" for e in project_imports() if (why := forbidden(e))]
    assert not offences, "\n".join(offences)


def test_no_module_imports_inside_a_function() -> None:
    hidden = [e.where for e in project_imports() if e.in_function]
    assert not hidden, "imports inside functions (move them to the top):\n" + "\n".join(hidden)


def test_every_top_level_package_has_a_layer() -> None:
    """A new top-level package must say where it stands, or the checks above skip it."""
    found = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests"}
    assert found == PACKAGES, f"give these a layer in {__file__}: {sorted(found ^ PACKAGES)}"


@pytest.mark.parametrize(
    ("module", "source", "why"),
    [
        ("base.kafka", "from collector.ingest import Collector", "the base imports no process"),
        ("sinks.writer", "import webhooks.signing", "a process imports no other process"),
        ("collector.app", "from footfall.stack import Stack", "does not import the footfall app"),
        ("stream_processors.views", "from ..webhooks import x", "a process imports no other"),
    ],
)
def test_the_check_names_each_kind_of_offence(module: str, source: str, why: str) -> None:
    [edge] = imports_of(source, module)
    reason = forbidden(edge)
    assert reason is not None
    assert why in reason


def test_the_check_sees_an_import_in_a_function() -> None:
    source = "import os\n\ndef f():\n    from collector.app import get_collector\n"
    assert [(e.target, e.in_function) for e in imports_of(source, "collector.segment")] == [
        ("os", False),
        ("collector.app", True),
    ]
