"""Load offered to the collector over HTTP on a fixed schedule (open loop), for
``footfall bench stack``.

An open loop sends each batch at its time whatever the earlier ones take, as shoppers do: a
closed loop (send, wait, send) slows down with the stack and hides that it fell behind.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

SITE, KEY = "demo", "demo-secret-key"
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0"
"""A browser's: the collector parses it as for any visitor (and flags no bot)."""
SHOPPERS = 20_000
"""Distinct browsers the load comes from: no one id nears the collector's flood threshold."""
MAX_IN_FLIGHT = 64
"""Requests the sender keeps open at most; a slot beyond it is not sent and counts as missed."""
MARKER_PREFIX = "marker-"
"""The anonymous and customer id of every marker begin with it (and no other event's do)."""


def shopper_event(n: int) -> dict[str, Any]:
    """The ``n``-th event of the load: views and carts of many browsers, three in ten of
    them signed in, an order now and then."""
    who = n % SHOPPERS
    kind = n % 20
    event: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "anonymous_id": f"b-{who}",
        "occurred_at": datetime.now(UTC).isoformat(),
        "context": {"url": f"https://shop.example/p/{n % 400}"},
    }
    if who % 10 < 3:
        event["customer_id"] = f"c-{who}"
    product = {"product_id": f"p{n % 400}", "category": f"cat{n % 9}", "price": "19.90"}
    if kind < 8:
        return event | {"type": "page_view"}
    if kind < 16:
        return event | {"type": "product_view", "properties": product}
    if kind < 19 or "customer_id" not in event:
        return event | {"type": "cart_add", "properties": product | {"quantity": 1}}
    order = {"order_id": f"o-{uuid.uuid4().hex[:12]}", "total": "39.80", "currency": "EUR"}
    return event | {"type": "order_placed", "properties": order}


def marker_event(profile_id: str) -> dict[str, Any]:
    """An event of a customer never seen before: its profile appears when it is counted."""
    return {
        "event_id": str(uuid.uuid4()),
        "type": "page_view",
        "anonymous_id": profile_id,
        "customer_id": profile_id,
        "occurred_at": datetime.now(UTC).isoformat(),
    }


@dataclass
class Ledger:
    """Everything the collector acknowledged in this run, and what failed."""

    accepted: int = 0
    errors: int = 0
    missed: int = 0
    """Batches the sender could not send on time (too many requests open)."""
    sent_events: int = 0
    """Events posted by the load (markers not included)."""


async def post(client: httpx.AsyncClient, events: list[dict[str, Any]], ledger: Ledger) -> bool:
    """One batch; True on a 2xx. Not retried: the sender's schedule goes on regardless."""
    try:
        answer = await client.post("/v1/batch", json={"write_key": KEY, "batch": events})
    except httpx.HTTPError:
        ledger.errors += 1
        return False
    if answer.status_code // 100 != 2:
        ledger.errors += 1
        return False
    ledger.accepted += int(answer.json()["accepted"])
    return True


async def offer(
    client: httpx.AsyncClient, rate: int, batch: int, seconds: float, ledger: Ledger
) -> None:
    """Open loop: one batch every ``batch / rate`` seconds for ``seconds``, answers or not."""
    interval = batch / rate
    started = time.monotonic()
    open_requests: set[asyncio.Task[bool]] = set()
    for slot in range(int(seconds / interval)):
        await asyncio.sleep(max(0.0, started + slot * interval - time.monotonic()))
        if len(open_requests) >= MAX_IN_FLIGHT:
            ledger.missed += 1
            continue
        events = [shopper_event(slot * batch + i) for i in range(batch)]
        ledger.sent_events += batch
        task = asyncio.create_task(post(client, events, ledger))
        open_requests.add(task)
        task.add_done_callback(open_requests.discard)
    if open_requests:
        await asyncio.wait(open_requests, timeout=30)
