"""What the SQL endpoint may run: one read statement, checked on ClickHouse's own parse. Pure.

Refusing by string patterns loses to comments, quoting and a second statement; here the engine
does the parsing and this module judges what it parsed:

1. ``formatQuery(q)`` (the query bound as a *value*, never spliced into SQL) re-serialises the
   text: it fails on a second statement, drops every comment and puts each top-level clause
   on a line of its own, with literals and identifiers escaped (no raw newline inside them).
2. ``EXPLAIN AST`` of that canonical text gives the tree, one node a line, indented by depth.
   ``check_tree`` accepts only read statements, table functions from a short allowlist, no
   function that touches files, URLs, processes or other servers, no ``INTO OUTFILE`` and no
   ``SETTINGS`` of the query's own (settings come from ``chosen_settings``' allowlist).
3. ``statement`` appends the sink's limits and the format to the canonical text. The text
   ends in a clause ClickHouse wrote and holds no comment, so nothing can swallow the limits.

String checks (``check_canonical``) stay as defence in depth on the canonical text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

# Output formats the endpoint serves; the name sent is mapped onto one of these constants.
FORMATS: dict[str, str] = {
    name.lower(): name
    for name in (
        "TabSeparated",
        "TabSeparatedWithNames",
        "TabSeparatedWithNamesAndTypes",
        "TSV",
        "TSVWithNames",
        "TSVWithNamesAndTypes",
        "CSV",
        "CSVWithNames",
        "JSON",
        "JSONCompact",
        "JSONEachRow",
        "JSONCompactEachRow",
        "JSONStringsEachRow",
        "Pretty",
        "PrettyCompact",
        "PrettySpace",
        "Markdown",
        "Vertical",
        "Values",
        "Native",  # clickhouse-connect reads results in Native
        "RowBinary",
        "RowBinaryWithNamesAndTypes",
        "Parquet",
        "Arrow",
    )
}

# Table functions that read nothing outside the query itself.
TABLE_FUNCTIONS = frozenset(
    {"numbers", "numbers_mt", "zeros", "zeros_mt", "values", "generate_series", "generateSeries"}
)

# Functions refused wherever they appear (also as scalars, e.g. ``file('x')``): they read or
# write files, reach URLs, run processes or other servers, or read data the endpoint must not.
DENIED_FUNCTIONS = frozenset(
    name.lower()
    for name in (
        "file",
        "fileCluster",
        "url",
        "urlCluster",
        "s3",
        "s3Cluster",
        "gcs",
        "oss",
        "cosn",
        "remote",
        "remoteSecure",
        "cluster",
        "clusterAllReplicas",
        "executable",
        "input",
        "mysql",
        "postgresql",
        "sqlite",
        "mongodb",
        "redis",
        "jdbc",
        "odbc",
        "hdfs",
        "hdfsCluster",
        "azureBlobStorage",
        "azureBlobStorageCluster",
        "iceberg",
        "icebergS3",
        "deltaLake",
        "hudi",
        "dictionary",
        "joinGet",
        "joinGetOrNull",
        "merge",
        "loop",
        "view",
        "fuzzJSON",
        "fuzzQuery",
    )
)

# Statements accepted at the root of the tree, and the query nodes accepted inside it.
ROOTS = frozenset(
    {
        "SelectWithUnionQuery",  # SELECT, WITH … SELECT, UNION, INTERSECT
        "ShowTables",  # SHOW TABLES, SHOW DATABASES
        "DescribeQuery",
        "ExistsTableQuery",
        "ShowCreateTableQuery",
        "Explain",  # its statement is checked like any other node below
    }
)
INNER_QUERIES = frozenset(
    {"SelectWithUnionQuery", "SelectQuery", "SelectIntersectExceptQuery", "TablesInSelectQuery"}
)

# Settings a client may send as URL parameters (presentation only; never a limit).
USER_SETTINGS = frozenset(
    {
        "output_format_json_quote_64bit_integers",
        "output_format_json_quote_decimals",
        "output_format_json_named_tuples_as_objects",
        "output_format_decimal_trailing_zeros",
        "date_time_output_format",
        "output_format_pretty_max_rows",
        "output_format_csv_crlf_end_of_line",
        "join_use_nulls",
        "session_timezone",
        "max_threads",
    }
)
# Settings the sink fixes; a client naming one is told so rather than silently ignored.
FIXED_SETTINGS = frozenset(
    {
        "readonly",
        "max_execution_time",
        "max_memory_usage",
        "max_result_rows",
        "max_result_bytes",
        "result_overflow_mode",
        "max_query_size",
        "max_parser_depth",
        "allow_ddl",
        "allow_introspection_functions",
        "additional_table_filters",
    }
)
SETTING_VALUE = re.compile(r"^[\w.+:/-]{1,64}$")

NODE = re.compile(r"^( *)([A-Za-z]\w*)(?: (.*))?$")
OUTSIDE_QUOTES_REFUSED = (
    (re.compile(r"\bINTO\s+OUTFILE\b", re.I), "INTO OUTFILE is not allowed"),
    (re.compile(r";"), "only one statement per request"),
    (re.compile(r"--|#|/\*"), "comments did not survive re-serialisation"),
    (re.compile(r"^SETTINGS\b", re.M), "SETTINGS are set by the sink"),
)
TRAILING_FORMAT = re.compile(r"\nFORMAT (\w+)$")


class QueryRefused(ValueError):
    """The request is not one read statement the endpoint may run; the message says why."""


@dataclass(frozen=True)
class Limits:
    """What one query may cost; set in ``SinkSettings``."""

    timeout_s: int
    max_memory_bytes: int
    max_result_rows: int
    max_result_bytes: int
    max_query_bytes: int

    def settings(self) -> dict[str, str]:
        return {
            "readonly": "1",
            "max_execution_time": str(self.timeout_s),
            "max_memory_usage": str(self.max_memory_bytes),
            "max_result_rows": str(self.max_result_rows),
            "max_result_bytes": str(self.max_result_bytes),
            "result_overflow_mode": "'throw'",
        }


def precheck(sql: str, limits: Limits) -> str:
    """The query text worth parsing: not empty, not longer than the limit."""
    sql = sql.strip()
    if not sql:
        raise QueryRefused("empty query")
    if len(sql.encode()) > limits.max_query_bytes:
        raise QueryRefused(f"the query is longer than {limits.max_query_bytes} bytes")
    return sql


def chosen_format(name: str | None) -> str | None:
    """The format constant ``name`` stands for (None when not given)."""
    if name is None or name == "":
        return None
    try:
        return FORMATS[name.lower()]
    except KeyError:
        raise QueryRefused(
            f"format {name!r} is not served; use one of {', '.join(sorted(FORMATS.values()))}"
        ) from None


def chosen_settings(params: Mapping[str, str]) -> dict[str, str]:
    """The allowlisted settings among request parameters; a limit of the sink is refused."""
    chosen: dict[str, str] = {}
    for name, value in params.items():
        if name in FIXED_SETTINGS or name.startswith("allow_"):
            raise QueryRefused(f"setting {name} is fixed by the sink")
        if name in USER_SETTINGS:
            if not SETTING_VALUE.match(value):
                raise QueryRefused(f"setting {name} has an unusable value")
            chosen[name] = "'" + value + "'"
    return chosen


def quoted_regions_blanked(canonical: str) -> str:
    """``canonical`` with the inside of every literal and quoted identifier blanked.

    The canonical text is ClickHouse's own: strings are single-quoted with backslash escapes,
    identifiers back-quoted. An identifier with an escape (a newline, say) is refused: the tree
    prints identifiers raw, so one could fake lines of it.
    """
    out: list[str] = []
    quote: str | None = None
    escaped = False
    for char in canonical:
        if quote is None:
            if char in "'`\"":
                quote = char
            out.append(char)
            continue
        if escaped:
            escaped = False
        elif char == "\\":
            if quote != "'":
                raise QueryRefused("identifiers with escaped characters are not served")
            escaped = True
        elif char == quote:
            quote = None
            out.append(char)
            continue
        out.append(" ")
    if quote is not None:
        raise QueryRefused("unterminated quote in the re-serialised query")
    return "".join(out)


def check_canonical(canonical: str) -> tuple[str, str | None]:
    """The canonical statement without its FORMAT clause, and that format (defence in depth)."""
    bare = quoted_regions_blanked(canonical)
    for pattern, reason in OUTSIDE_QUOTES_REFUSED:
        if pattern.search(bare):
            raise QueryRefused(reason)
    match = TRAILING_FORMAT.search(bare)
    if match is None:  # a FORMAT elsewhere (INSERT … FORMAT) is judged on the tree
        return canonical, None
    return canonical[: match.start()], chosen_format(match.group(1))


@dataclass(frozen=True)
class Node:
    depth: int
    kind: str
    name: str


def parse_tree(ast_text: str) -> list[Node]:
    """The lines of ``EXPLAIN AST``; any line not of its grammar refuses (fail closed)."""
    nodes: list[Node] = []
    for line in ast_text.rstrip("\n").split("\n"):
        match = NODE.match(line)
        if match is None:
            raise QueryRefused("the parsed query has a shape this endpoint does not read")
        depth = len(match.group(1))
        if depth > (nodes[-1].depth + 1 if nodes else 0):
            raise QueryRefused("the parsed query has a shape this endpoint does not read")
        rest = (match.group(3) or "").split(" ", 1)[0]
        nodes.append(Node(depth, match.group(2), rest))
    return nodes


def check_tree(ast_text: str) -> None:
    """Refuse unless the tree is one read statement touching nothing outside the store."""
    nodes = parse_tree(ast_text)
    if not nodes or nodes[0].kind not in ROOTS:
        kind = nodes[0].kind if nodes else "nothing"
        raise QueryRefused(
            f"only read statements (SELECT, WITH, SHOW TABLES, DESCRIBE, EXISTS, EXPLAIN); "
            f"got {kind}"
        )
    parents: list[Node] = []
    for node in nodes:
        del parents[node.depth :]
        parent = parents[-1] if parents else None
        check_node(node, parent, root=not parents)
        parents.append(node)


def check_node(node: Node, parent: Node | None, *, root: bool) -> None:
    if node.kind.endswith("Query") and not root and node.kind not in INNER_QUERIES:
        raise QueryRefused(f"{node.kind} is not a read statement")
    if node.kind == "Set":
        raise QueryRefused("SETTINGS are set by the sink; send allowed ones as URL parameters")
    if node.kind == "Literal" and parent is not None and parent.kind == "SelectWithUnionQuery":
        raise QueryRefused("INTO OUTFILE is not allowed")
    if node.kind == "Function":
        if node.name.lower() in DENIED_FUNCTIONS:
            raise QueryRefused(f"function {node.name} reaches outside the store")
        in_from = parent is not None and parent.kind == "TableExpression"
        if in_from and node.name not in TABLE_FUNCTIONS:
            raise QueryRefused(
                f"table function {node.name} is not served; "
                f"allowed: {', '.join(sorted(TABLE_FUNCTIONS))}"
            )


def tables_read(ast_text: str) -> list[str]:
    """The table names the tree reads (CTE names included: they are checked as non-tables)."""
    return [node.name for node in parse_tree(ast_text) if node.kind == "TableIdentifier"]


def quoted(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


@dataclass(frozen=True)
class SiteScope:
    """What a site's token may read: its rows of the store's tables that carry ``site_id``.

    Plain views with a ``site_id`` column (``people``, ``segment_members_now``) count as tables:
    the filter applies to what the view gives, and to every table read inside it. A
    materialized view's name is refused (its rows are read through its target table).

    ``readable`` holds those tables as ``database.table``; ``tables`` every real table.
    """

    site: str
    database: str
    readable: frozenset[str]
    tables: frozenset[str]

    def check(self, names: list[str]) -> None:
        """Refuse another database's tables (system's too) and tables without site_id."""
        for name in names:
            qualified = name if "." in name else f"{self.database}.{name}"
            elsewhere = not qualified.startswith(f"{self.database}.")
            if elsewhere or (qualified in self.tables and qualified not in self.readable):
                raise QueryRefused(f"a site's token does not read {name}")

    def filters(self) -> dict[str, str]:
        """``additional_table_filters``: every readable table seen through ``site_id = site``."""
        condition = f"site_id = {quoted(self.site)}"
        tables = sorted(self.readable)
        pairs = ", ".join(f"{quoted(table)}: {quoted(condition)}" for table in tables)
        return {"additional_table_filters": "{" + pairs + "}"}


def statement(
    body: str,
    fmt: str,
    limits: Limits,
    user_settings: Mapping[str, str],
    scope: SiteScope | None = None,
) -> str:
    """The text to run: the checked canonical body, then the limits, then the format."""
    applied = {**user_settings, **limits.settings(), **(scope.filters() if scope else {})}
    clause = ", ".join(f"{name} = {value}" for name, value in applied.items())
    return f"{body}\nSETTINGS {clause}\nFORMAT {fmt}"
