"""One HTTP attempt of a delivery: vetted address, no redirects, bounded time and body."""

from __future__ import annotations

import asyncio
import ipaddress
import time
from urllib.parse import urlsplit, urlunsplit

import httpx

from webhooks.policy import AttemptResult
from webhooks.safety import IPAddress, UnsafeUrl, checked_address, parse_networks
from webhooks.settings import DeliveryPolicy

ERROR_TEXT_MAX = 300


def pinned_url(url: str, address: IPAddress) -> str:
    """``url`` with its host replaced by the vetted address (the port kept)."""
    parts = urlsplit(url)
    host = f"[{address}]" if isinstance(address, ipaddress.IPv6Address) else str(address)
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))


class Sender:
    def __init__(self, policy: DeliveryPolicy) -> None:
        self.policy = policy
        self.allowed = parse_networks(policy.allow_networks)
        self.client = httpx.AsyncClient(
            follow_redirects=False,
            timeout=httpx.Timeout(policy.timeout_s, connect=policy.connect_timeout_s),
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=200),
            trust_env=False,
        )

    async def close(self) -> None:
        await self.client.aclose()

    async def attempt(self, url: str, headers: dict[str, str], body: str) -> AttemptResult:
        started = time.perf_counter()
        try:
            host, address = await checked_address(url, self.allowed)
        except UnsafeUrl as exc:
            return AttemptResult(0, 0.0, f"refused: {exc}", refused=True)
        parts = urlsplit(url)
        extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
        try:
            async with asyncio.timeout(self.policy.timeout_s):
                return await self.post(
                    pinned_url(url, address),
                    headers | {"host": parts.netloc},
                    body,
                    extensions,
                    started,
                )
        except TimeoutError:
            error = f"timed out after {self.policy.timeout_s:g}s"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:ERROR_TEXT_MAX]
        return AttemptResult(0, elapsed_ms(started), error)

    async def post(
        self,
        url: str,
        headers: dict[str, str],
        body: str,
        extensions: dict[str, str],
        started: float,
    ) -> AttemptResult:
        request = self.client.build_request(
            "POST", url, content=body.encode(), headers=headers, extensions=extensions
        )
        response = await self.client.send(request, stream=True)
        try:
            received = bytearray()
            async for chunk in response.aiter_raw():
                received += chunk[: self.policy.response_max_bytes - len(received)]
                if len(received) >= self.policy.response_max_bytes:
                    break
        finally:
            await response.aclose()
        status = response.status_code
        error = ""
        if not 200 <= status < 300:
            text = received.decode(errors="replace")[:ERROR_TEXT_MAX]
            error = f"HTTP {status}" + (f": {text}" if text else "")
        return AttemptResult(
            status, elapsed_ms(started), error, retry_after=response.headers.get("retry-after")
        )


def elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
