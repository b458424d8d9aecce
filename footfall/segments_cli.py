"""``footfall segments``: current segment sizes and members from ClickHouse; check a config.

Membership is read from ``segment_changes``: a profile is in a segment when its latest change
for that segment is ``entered``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from base.sqlclient import QueryError, SqlClient
from footfall.sql_target import sql_client
from footfall.stack import StackSettings
from stream_processors.segments import DEFAULT_CONFIG, SegmentConfigError, load_config

segments_app = typer.Typer(
    help="Segments: current sizes, members, and a check of a segment config file.",
    no_args_is_help=False,
    invoke_without_command=True,
)
console = Console()
err = Console(stderr=True)

CURRENT_MEMBERS = """
    SELECT site_id, segment, profile_id, max(at) AS since
    FROM segment_changes FINAL
    GROUP BY site_id, segment, profile_id
    HAVING argMax(change, at) = 'entered'
"""
SIZES = f"""
    SELECT segment, count() AS members, formatDateTime(max(since), '%Y-%m-%d %H:%i') AS last_entry
    FROM ({CURRENT_MEMBERS})
    WHERE {{site:String}} = '' OR site_id = {{site:String}}
    GROUP BY segment ORDER BY members DESC, segment
"""
MEMBERS = f"""
    SELECT site_id, profile_id, formatDateTime(since, '%Y-%m-%d %H:%i:%S') AS since
    FROM ({CURRENT_MEMBERS})
    WHERE segment = {{segment:String}} AND ({{site:String}} = '' OR site_id = {{site:String}})
    ORDER BY since DESC, profile_id LIMIT {{limit:UInt32}}
"""

Url = Annotated[
    str | None, typer.Option(help="SQL endpoint; default the local sink or CLICKHOUSE_URL.")
]
Site = Annotated[str, typer.Option(help="Only this site.")]


def segment_sizes(sql: SqlClient, config_names: list[str], site: str = "") -> list[dict[str, Any]]:
    """Every declared segment with its current size (0 when nobody is in it), then others."""
    found = {row["segment"]: row for row in sql.rows(SIZES, {"site": site})}
    rows = [
        {
            "segment": name,
            "members": int(found[name]["members"]) if name in found else 0,
            "last_entry": found[name]["last_entry"] if name in found else "",
        }
        for name in config_names
    ]
    rows += [
        {"segment": n, "members": int(r["members"]), "last_entry": r["last_entry"]}
        for n, r in found.items()
        if n not in config_names
    ]
    return rows


def segment_members(
    sql: SqlClient, segment: str, site: str = "", limit: int = 50
) -> list[dict[str, Any]]:
    return sql.rows(MEMBERS, {"segment": segment, "site": site, "limit": str(limit)})


def client_for(url: str | None) -> SqlClient:
    return sql_client(StackSettings(), url)


def render(title: str, rows: list[dict[str, Any]]) -> Table:
    table = Table(title=title, title_justify="left")
    for column in rows[0] if rows else ["(none)"]:
        table.add_column(column)
    for row in rows:
        table.add_row(*(str(v) for v in row.values()))
    return table


def run_query(
    url: str | None, title: str, query: Callable[[SqlClient], list[dict[str, Any]]]
) -> None:
    client = client_for(url)
    try:
        console.print(render(title, query(client)))
    except QueryError as exc:
        err.print(f"[red]ClickHouse refused the query:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from exc
    except (OSError, httpx.HTTPError) as exc:
        err.print(f"[red]No SQL endpoint at {client.url}[/red] ({exc}); start `footfall up`.")
        raise typer.Exit(2) from exc
    finally:
        client.close()


@segments_app.callback()
def sizes(
    ctx: typer.Context,
    url: Url = None,
    site: Site = "",
    config: Annotated[Path, typer.Option(help="Segment config (TOML).")] = DEFAULT_CONFIG,
) -> None:
    """List segments with their current sizes."""
    if ctx.invoked_subcommand is not None:
        return
    names = [s.name for s in load_config(config).segments]
    run_query(url, "Segments (current members)", lambda c: segment_sizes(c, names, site))


@segments_app.command()
def members(
    segment: Annotated[str, typer.Argument(help="Segment name.")],
    url: Url = None,
    site: Site = "",
    limit: Annotated[int, typer.Option(min=1)] = 50,
) -> None:
    """The current members of one segment, latest entries first."""
    run_query(url, f"Members of {segment}", lambda c: segment_members(c, segment, site, limit))


@segments_app.command()
def check(file: Annotated[Path, typer.Argument(help="Segment config to validate.")]) -> None:
    """Validate a segment config file; exit 1 with the bad rule named if it is invalid."""
    try:
        config = load_config(file)
    except (SegmentConfigError, OSError) as exc:
        err.print(f"[red]invalid:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from exc
    console.print(f"[green]ok[/green]: {len(config.segments)} segments in {file}")
    for segment in config.segments:
        console.print(f"  {segment.name:<26} {segment.description}", style="dim")
