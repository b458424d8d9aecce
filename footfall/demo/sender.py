"""Drives the collector over HTTP with simulated events, as storefronts and shop backends do."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from footfall.demo.simulator import batches

# The simulated storefront traffic comes from browsers; httpx's own agent is on every crawler
# list, so the collector would divert the write-key (browser) events as a bot's.
BROWSER_AGENT = "Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0"


class SendError(RuntimeError):
    """The collector refused a batch in a way that retrying cannot fix."""


@dataclass
class SendReport:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    retries: int = 0


async def send_batch(
    client: httpx.AsyncClient,
    url: str,
    key: str,
    events: list[dict[str, Any]],
    report: SendReport,
    attempts: int = 30,
) -> None:
    """POST one batch; 429/503 are retried after ``Retry-After``, other errors raise."""
    for _ in range(attempts):
        body = {"write_key": key, "sent_at": datetime.now(UTC).isoformat(), "batch": events}
        try:
            response = await client.post(f"{url}/v1/batch", json=body)
        except httpx.TransportError:
            report.retries += 1
            await asyncio.sleep(1)
            continue
        if response.status_code in (429, 503):
            report.retries += 1
            await asyncio.sleep(float(response.headers.get("retry-after", "1")))
            continue
        if response.status_code != 200:
            raise SendError(f"collector answered {response.status_code}: {response.text}")
        result = response.json()
        report.accepted += result["accepted"]
        report.duplicates += result["duplicates"]
        report.rejected += result["rejected"]
        return
    raise SendError(f"collector still unavailable after {attempts} attempts")


async def send_all(
    url: str,
    streams: list[tuple[str, list[dict[str, Any]]]],
    batch_size: int = 50,
    concurrency: int = 4,
    on_progress: Callable[[int], None] = lambda _: None,
) -> SendReport:
    """Send every ``(key, events)`` stream in batches, ``concurrency`` requests at a time."""
    report = SendReport()
    jobs: asyncio.Queue[tuple[str, list[dict[str, Any]]]] = asyncio.Queue()
    for key, events in streams:
        for chunk in batches(events, batch_size):
            jobs.put_nowait((key, chunk))

    async def worker(client: httpx.AsyncClient) -> None:
        while not jobs.empty():
            key, chunk = jobs.get_nowait()
            await send_batch(client, url, key, chunk, report)
            on_progress(len(chunk))

    async with httpx.AsyncClient(timeout=30, headers={"User-Agent": BROWSER_AGENT}) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return report
