"""``footfall profile ID`` and ``footfall identity …``: live profiles and identity history."""

from __future__ import annotations

import asyncio
import getpass
import json
from datetime import UTC, datetime
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console

from base.kafka import start_producer
from footfall.stack import StackSettings
from schemas.privacy import AuditRecord, subject
from stream_processors.identity import undo_message

console = Console()
err = Console(stderr=True)

Site = Annotated[str, typer.Option(help="Site id.")]
WorkerUrl = Annotated[
    str | None, typer.Option(help="Worker web server (default the local stack's).")
]

identity_app = typer.Typer(
    help="Identity history: which customer each browser is linked to; undo a link.",
    no_args_is_help=True,
)


def worker_get(url: str | None, path: str) -> dict[str, Any]:
    base = url or StackSettings().worker_url
    try:
        response = httpx.get(f"{base}{path}", timeout=10.0)
    except httpx.HTTPError as exc:
        err.print(f"[red]cannot reach the worker at {base}: {exc}[/red]")
        raise typer.Exit(2) from exc
    if response.status_code == 404:
        err.print("[yellow]not found[/yellow]")
        raise typer.Exit(1)
    if response.status_code != 200:
        err.print(f"[red]worker answered {response.status_code}: {response.text}[/red]")
        raise typer.Exit(2)
    body: dict[str, Any] = response.json()
    return body


def profile_command(
    profile_id: Annotated[str, typer.Argument(help="Customer id, or anon-<anonymous id>.")],
    site: Site = "demo",
    worker_url: WorkerUrl = None,
) -> None:
    """Print one live profile (with its derived figures) from the worker that owns it."""
    body = worker_get(worker_url, f"/profiles/{site}/{profile_id}")
    console.print_json(json.dumps(body))


@identity_app.command("show")
def identity_show(
    anonymous_id: Annotated[str, typer.Argument(help="The browser's anonymous id.")],
    site: Site = "demo",
    worker_url: WorkerUrl = None,
) -> None:
    """Every link of a browser to a customer: when, by which event, what was merged, undone."""
    body = worker_get(worker_url, f"/identity/{site}/{anonymous_id}")
    links = body.get("links", [])
    if not links:
        console.print("no links: the browser is anonymous")
    for link in links:
        undone = f", undone {link['undone_at']}" if link.get("undone_at") else ""
        merged = f", merged {link['merged']}" if link.get("merged") else ""
        console.print(
            f"{link['at']}  → {link['customer']}  (event {link['event_id']}, "
            f"offset {link['since']}{merged}{undone})"
        )


@identity_app.command("undo")
def identity_undo(
    anonymous_id: Annotated[str, typer.Argument(help="The browser's anonymous id.")],
    site: Site = "demo",
) -> None:
    """Undo the browser's latest link: its later events build an anonymous profile again.

    The history merged into the customer stays with the customer.
    """
    settings = StackSettings()

    async def send() -> None:
        producer = await start_producer(settings)
        try:
            await producer.send_and_wait(
                settings.topics.events,
                undo_message(site, anonymous_id),
                key=f"{site}:{anonymous_id}".encode(),
            )
            audit = AuditRecord(
                at=datetime.now(UTC),
                actor=getpass.getuser(),
                action="identity.undo",
                site_id=site,
                target=subject(site, anonymous_id),
                detail="the browser's latest link undone (target: its subject)",
            )
            await producer.send_and_wait(
                settings.topics.audit, audit.model_dump_json().encode(), key=b"identity.undo"
            )
        finally:
            await producer.stop()

    asyncio.run(send())
    console.print(f"undo of {site}:{anonymous_id} sent; check with `footfall identity show`")
