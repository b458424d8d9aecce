"""``footfall webhooks …``: manage subscriptions and replays through the dispatcher's admin API."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from footfall.stack import StackSettings

webhooks_app = typer.Typer(
    help="Webhook subscriptions, test sends and replays (through the running dispatcher).",
    no_args_is_help=True,
)
console = Console()
err = Console(stderr=True)

Url = Annotated[
    str | None, typer.Option(help="Dispatcher admin URL (default from FOOTFALL_* settings).")
]


class AdminClient:
    def __init__(self, url: str | None) -> None:
        settings = StackSettings()
        self.url = (url or settings.webhooks_url).rstrip("/")
        self.http = httpx.Client(
            base_url=f"{self.url}/v1",
            headers={"Authorization": f"Bearer {settings.admin_token}"},
            timeout=60,
        )

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            err.print(
                f"[red]No webhook dispatcher at {self.url}[/red] ({exc}). "
                "Start the stack with `footfall up`."
            )
            raise typer.Exit(2) from exc
        if response.status_code >= 400:
            err.print(f"[red]{response.status_code}[/red] {response.text}")
            raise typer.Exit(1)
        return response.json()


@webhooks_app.command("list")
def list_(url: Url = None) -> None:
    """Show every subscription."""
    rows = AdminClient(url).call("GET", "/subscriptions")
    table = Table("id", "site", "url", "enabled", "events", "description")
    for row in rows:
        enabled = "yes" if row["enabled"] else f"no ({row.get('disabled_reason') or 'admin'})"
        events = ", ".join(row["events"])
        if row.get("segments"):
            events += f" [segments: {', '.join(row['segments'])}]"
        table.add_row(row["id"], row["site_id"], row["url"], enabled, events, row["description"])
    console.print(table)


@webhooks_app.command()
def add(
    site: Annotated[str, typer.Option(help="Site id whose events are sent.")],
    endpoint: Annotated[str, typer.Option("--endpoint", help="URL that receives the POSTs.")],
    event: Annotated[
        list[str],
        typer.Option(help="Event kind, repeatable: journey.cart_abandoned, segment.entered, …"),
    ],
    segment: Annotated[list[str] | None, typer.Option(help="Only these segments.")] = None,
    description: Annotated[str, typer.Option()] = "",
    secret: Annotated[str | None, typer.Option(help="whsec_… (default: a new one).")] = None,
    id: Annotated[str | None, typer.Option("--id", help="Subscription id.")] = None,
    url: Url = None,
) -> None:
    """Add a subscription; prints its signing secret."""
    body = {
        "id": id,
        "site_id": site,
        "url": endpoint,
        "events": event,
        "segments": segment or [],
        "description": description,
        "secret": secret,
    }
    created = AdminClient(url).call("POST", "/subscriptions", json=body)
    console.print(f"added [bold]{created['id']}[/bold] → {created['url']}")
    console.print(f"signing secret: {created['secret']}")


@webhooks_app.command()
def remove(subscription_id: str, url: Url = None) -> None:
    """Remove a subscription."""
    AdminClient(url).call("DELETE", f"/subscriptions/{subscription_id}")
    console.print(f"removed {subscription_id}")


@webhooks_app.command()
def enable(subscription_id: str, url: Url = None) -> None:
    """Enable a subscription again (after 410 Gone or too many failures)."""
    AdminClient(url).call("POST", f"/subscriptions/{subscription_id}/enable")
    console.print(f"enabled {subscription_id}")


@webhooks_app.command()
def disable(subscription_id: str, url: Url = None) -> None:
    """Disable a subscription; its pending deliveries are parked in the DLQ."""
    AdminClient(url).call("POST", f"/subscriptions/{subscription_id}/disable")
    console.print(f"disabled {subscription_id}")


@webhooks_app.command("test")
def send_test(subscription_id: str, url: Url = None) -> None:
    """Send a signed webhook.test delivery now and show the answer."""
    result = AdminClient(url).call("POST", f"/subscriptions/{subscription_id}/test")
    colour = "green" if result["ok"] else "red"
    console.print(
        f"[{colour}]{result['status'] or 'no response'}[/{colour}] "
        f"in {result['latency_ms']:.0f} ms {result['error']}"
    )
    if not result["ok"]:
        raise typer.Exit(1)


class ReplaySource(StrEnum):
    dlq = "dlq"
    range = "range"


@webhooks_app.command()
def replay(
    source: Annotated[
        ReplaySource,
        typer.Option("--from", help="dlq: parked deliveries; range: every delivery made."),
    ] = ReplaySource.dlq,
    since: Annotated[datetime | None, typer.Option(help="From this time (UTC).")] = None,
    until: Annotated[datetime | None, typer.Option(help="Until this time (UTC).")] = None,
    subscription: Annotated[str | None, typer.Option(help="Only this subscription.")] = None,
    url: Url = None,
) -> None:
    """Send deliveries again, with their original delivery ids."""
    body = {
        "source": source.value,
        "since": since.isoformat() + ("" if since.tzinfo else "Z") if since else None,
        "until": until.isoformat() + ("" if until.tzinfo else "Z") if until else None,
        "subscription_id": subscription,
    }
    result = AdminClient(url).call("POST", "/replay", json=body)
    console.print(f"replaying {result['replayed']} deliveries")
