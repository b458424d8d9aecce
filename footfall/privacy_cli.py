"""``footfall erase``, ``footfall erasure`` and ``footfall export``: a data subject's requests.

Erasure goes through the sink's admin API (the request lands on the privacy topic; the
status comes from the stores' reports). Export reads what is held about one customer: their
rows in every ClickHouse table (found by subject, as the erasure finds them) and the worker's
live profile and identity history of each of their browsers. Personal traits a site seals
are opened with its key (``FOOTFALL_PERSONAL_KEYS``, the collector's); hashed ones cannot be.
"""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console

from base.sqlclient import QueryError, SqlClient
from footfall.stack import StackSettings
from schemas.personal import PersonalDataError, opened_everywhere, sealed_count
from schemas.privacy import subject
from sinks.erasure import ID_COLUMNS, dlq_matching, matching

console = Console()
err = Console(stderr=True)

Site = Annotated[str, typer.Option(help="Site id.")]
SinkUrl = Annotated[str | None, typer.Option(help="The sink (default the local stack's).")]


def admin_call(method: str, url: str, token: str, **kwargs: Any) -> dict[str, Any]:
    try:
        response = httpx.request(
            method, url, headers={"Authorization": f"Bearer {token}"}, timeout=30.0, **kwargs
        )
    except httpx.HTTPError as exc:
        err.print(f"[red]cannot reach the sink at {url}: {exc}[/red] (is `footfall up` running?)")
        raise typer.Exit(2) from exc
    if response.status_code >= 400:
        err.print(f"[red]the sink answered {response.status_code}: {response.text}[/red]")
        raise typer.Exit(1 if response.status_code == 404 else 2)
    body: dict[str, Any] = response.json()
    return body


def erase_command(
    customer_id: Annotated[str, typer.Argument(help="The customer id to erase.")],
    site: Site = "demo",
    wait: Annotated[
        float, typer.Option(help="Seconds to wait for every store to confirm (0: do not wait).")
    ] = 120.0,
    requested_by: Annotated[str, typer.Option(help="Who asks (kept in the audit log).")] = "cli",
    sink_url: SinkUrl = None,
) -> None:
    """Erase a customer and every browser linked to them from every store, and tell the
    marketing tools that received data about them (a signed customer.erased webhook)."""
    settings = StackSettings()
    base = sink_url or settings.sink_url
    body = {"site_id": site, "customer_id": customer_id, "requested_by": requested_by}
    asked = admin_call("POST", f"{base}/privacy/erasures", settings.admin_token, json=body)
    request_id = asked["request_id"]
    console.print(f"erasure {request_id} requested")
    if wait <= 0:
        console.print(f"follow it with `footfall erasure {request_id}`")
        return
    status = wait_for_erasure(base, settings.admin_token, request_id, wait)
    console.print_json(json.dumps(status))
    if status.get("status") != "done":
        err.print(f"[yellow]not confirmed yet; follow it with `footfall erasure {request_id}`")
        raise typer.Exit(1)


def wait_for_erasure(base: str, token: str, request_id: str, wait_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + wait_s
    status: dict[str, Any] = {"status": "pending"}
    while time.monotonic() < deadline:
        try:
            response = httpx.get(
                f"{base}/privacy/erasures/{request_id}",
                headers={"Authorization": f"Bearer {token}"},
                timeout=10.0,
            )
        except httpx.HTTPError:
            response = None  # the sink restarting: ask again
        if response is not None and response.status_code == 200:
            status = response.json()
            if status.get("status") == "done":
                return status
        time.sleep(0.5)
    return status


def erasure_status_command(
    request_id: Annotated[str, typer.Argument(help="The id `footfall erase` printed.")],
    sink_url: SinkUrl = None,
) -> None:
    """Show an erasure request: pending (and which stores have not confirmed) or done, with
    the rows removed per store."""
    settings = StackSettings()
    base = sink_url or settings.sink_url
    found = admin_call("GET", f"{base}/privacy/erasures/{request_id}", settings.admin_token)
    console.print_json(json.dumps(found))


EXPORTED_TABLES = (*ID_COLUMNS, "dlq_events")
EXPORTED_COLUMNS = {
    "sessions": "* EXCEPT (events)",
    "segment_membership": "* EXCEPT (last_change), finalizeAggregation(last_change) AS last_change",
}
"""Tables with aggregate states: their readable values instead of the binary states."""
LISTED_SUBJECTS = "splitByChar(',', {subjects:String})"
"""The subjects as one bound string: the SQL endpoint binds every parameter as text."""


def customer_subjects(sql: SqlClient, site: str, customer_id: str) -> list[str]:
    """The customer's subject and those of every browser the store saw them on."""
    rows = sql.rows(
        "SELECT DISTINCT anonymous_id AS id FROM events "
        "WHERE site_id = {site:String} AND customer_id = {customer:String} "
        "UNION DISTINCT SELECT profile_id AS id FROM profiles "
        "WHERE site_id = {site:String} AND merged_into = {customer:String}",
        {"site": site, "customer": customer_id},
    )
    return sorted({subject(site, customer_id), *(subject(site, str(r["id"])) for r in rows)})


def held_rows(sql: SqlClient, site: str, subjects: list[str]) -> dict[str, list[dict[str, Any]]]:
    params = {"site": site, "subjects": ",".join(subjects)}
    held = {}
    for table in EXPORTED_TABLES:
        if table == "dlq_events":
            where = dlq_matching(LISTED_SUBJECTS)
        else:
            where = matching(ID_COLUMNS[table], LISTED_SUBJECTS)
        columns = EXPORTED_COLUMNS.get(table, "*")
        held[table] = sql.rows(f"SELECT {columns} FROM {table} WHERE {where}", params)
    return held


def worker_state(worker_url: str, site: str, customer_id: str, browsers: list[str]) -> Any:
    found: dict[str, Any] = {"browsers": {}}
    with httpx.Client(base_url=worker_url, timeout=10.0) as client:
        profile = client.get(f"/profiles/{site}/{customer_id}")
        found["profile"] = profile.json() if profile.status_code == 200 else None
        for browser in browsers:
            identity = client.get(f"/identity/{site}/{browser}")
            if identity.status_code == 200:
                found["browsers"][browser] = identity.json()
    return found


def export_command(
    customer_id: Annotated[str, typer.Argument(help="The customer id to export.")],
    site: Site = "demo",
    sink_url: SinkUrl = None,
    worker_url: Annotated[str | None, typer.Option(help="The worker's web server.")] = None,
) -> None:
    """Print everything held about one customer as JSON (an access request's answer): their
    rows in every ClickHouse table and the worker's live profile and identity history."""
    settings = StackSettings()
    sql = SqlClient(sink_url or settings.sink_url, settings.admin_token)
    try:
        subjects = customer_subjects(sql, site, customer_id)
        held = held_rows(sql, site, subjects)
    except (QueryError, OSError) as exc:
        err.print(f"[red]the SQL endpoint failed: {exc}[/red] (is `footfall up` running?)")
        raise typer.Exit(2) from exc
    finally:
        sql.close()
    browsers = sorted({str(r["anonymous_id"]) for r in held["events"] if r.get("anonymous_id")})
    try:
        live = worker_state(worker_url or settings.worker_url, site, customer_id, browsers)
    except httpx.HTTPError as exc:
        live = {"unavailable": f"the worker did not answer: {exc}"}
    document: object = {
        "site_id": site,
        "customer_id": customer_id,
        "browsers": browsers,
        "clickhouse": held,
        "worker": live,
    }
    document = json.loads(json.dumps(document, default=str))
    key = settings.personal_key(site)
    if sealed_count(document) and key is None:
        err.print(
            f"[yellow]sealed personal traits are shown sealed: set FOOTFALL_PERSONAL_KEYS with "
            f"site {site}'s key (the collector's) to open them[/yellow]"
        )
    elif key is not None:
        try:
            document = opened_everywhere(document, key, site)
        except (PersonalDataError, ValueError) as exc:
            err.print(f"[red]{exc}[/red]: is FOOTFALL_PERSONAL_KEYS the collector's value?")
            raise typer.Exit(2) from exc
    print(json.dumps(document, indent=2, default=str))
