"""The SQL cookbook: documented, parameterised queries in ``base/queries/*.sql``.

Each file starts with ``--`` comment lines: a description, then ``params:`` listing
``name Type`` or ``name Type = default``. Parameters use ClickHouse's own ``{name:Type}``
syntax and travel as ``param_<name>`` over HTTP, so nothing is spliced into the SQL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

QUERIES_DIR = Path(__file__).parent / "queries"


class CookbookError(ValueError):
    """An unknown recipe or a missing parameter."""


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    default: str | None = None


@dataclass(frozen=True)
class Recipe:
    name: str
    description: str
    params: tuple[Param, ...]
    sql: str

    def arguments(self, given: dict[str, str]) -> dict[str, str]:
        """The parameters to send: given values, else defaults; refuses unknown or missing."""
        known = {p.name for p in self.params}
        unknown = set(given) - known
        if unknown:
            raise CookbookError(f"{self.name} takes no parameter {', '.join(sorted(unknown))}")
        values = {}
        for param in self.params:
            value = given.get(param.name, param.default)
            if value is None:
                raise CookbookError(
                    f"{self.name} needs --param {param.name}=<{param.type}> ({self.usage()})"
                )
            values[param.name] = value
        return values

    def usage(self) -> str:
        return " ".join(
            f"{p.name}={p.type}" + (f" (default {p.default})" if p.default else "")
            for p in self.params
        )


PARAM = re.compile(r"^\s*(\w+)\s+([\w(), ]+?)\s*(?:=\s*(\S+))?\s*$")


def parse_recipe(path: Path) -> Recipe:
    lines = path.read_text().splitlines()
    header = [line[2:].strip() for line in lines if line.startswith("--")]
    description = " ".join(h for h in header if not h.startswith("params:"))
    params: list[Param] = []
    for line in header:
        if line.startswith("params:"):
            for part in line.removeprefix("params:").split(","):
                if not part.strip():
                    continue
                match = PARAM.match(part)
                if not match:
                    raise CookbookError(f"{path.name}: bad parameter declaration {part!r}")
                params.append(Param(*match.groups()))
    sql = "\n".join(line for line in lines if not line.startswith("--")).strip()
    return Recipe(path.stem, description, tuple(params), sql)


def recipes(directory: Path = QUERIES_DIR) -> dict[str, Recipe]:
    return {path.stem: parse_recipe(path) for path in sorted(directory.glob("*.sql"))}


def recipe(name: str) -> Recipe:
    found = recipes()
    if name not in found:
        raise CookbookError(f"no query {name!r}; known: {', '.join(found)}")
    return found[name]
