"""Abuse limits: per-IP and per-key rate limits, and the overflow rule for hot keys.

The per-IP limit is counted before the key is even looked at, so requests with a bad or
missing key are limited too (key guessing costs the guesser its budget). Counters live in
process memory (``limits`` with its memory storage): with N uvicorn workers each worker
counts on its own, so the effective limit is N times the setting.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Literal

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from collector.settings import CollectorSettings
from schemas.events import Envelope


@dataclass(frozen=True)
class Throttled:
    """A request over a rate limit: answer 429 with ``Retry-After``."""

    scope: str
    retry_after_s: int


def is_placeholder(anonymous_id: str, placeholders: frozenset[str]) -> bool:
    """Ids that many browsers share (``null``, ``undefined``, …) are hot keys."""
    return anonymous_id.strip().lower() in placeholders


Diversion = Literal["bot", "flood", "placeholder"]
DIVERSIONS: tuple[Diversion, ...] = ("bot", "flood", "placeholder")


def overflow_reason(
    event: Envelope, placeholders: frozenset[str], flooding: bool, verified: bool
) -> Diversion | None:
    """Why an event must go to the overflow topic instead of the main one, if it must.

    A crawler's user agent diverts only browser (write-key) events: an event sent with the
    secret key comes from the shop's own backend, whose agent (``curl/…``, ``Java/…``,
    ``python-requests/…``) every crawler list names, and its orders must build profiles."""
    device = event.context.device
    if not verified and device is not None and device.is_bot:
        return "bot"
    if is_placeholder(event.anonymous_id, placeholders):
        return "placeholder"
    if flooding:
        return "flood"
    return None


class AbuseGuard:
    """Rate limits per key and per IP, and a flood counter per anonymous id."""

    def __init__(self, settings: CollectorSettings) -> None:
        self._storage = MemoryStorage()
        self._limiter = MovingWindowRateLimiter(self._storage)
        self._per_key: RateLimitItem = parse(settings.rate_limit_per_key)
        self._per_ip: RateLimitItem = parse(settings.rate_limit_per_ip)
        self._flood_window = max(1, math.ceil(settings.flood_window_s))
        self._flood_threshold = settings.flood_threshold
        self.placeholders = frozenset(p.lower() for p in settings.placeholder_ids)

    def _retry_after(self, item: RateLimitItem, *ids: str) -> int:
        reset = self._limiter.get_window_stats(item, *ids).reset_time
        return max(1, math.ceil(reset - time.time()))

    def check_ip(self, client_ip: str | None) -> Throttled | None:
        """Count one request of an address, before authentication; a :class:`Throttled`
        when the address is over its limit."""
        if client_ip and not self._limiter.hit(self._per_ip, "ip", client_ip):
            return Throttled("ip", self._retry_after(self._per_ip, "ip", client_ip))
        return None

    def check_key(self, key_hash: str) -> Throttled | None:
        """Count one request of an authenticated key; :class:`Throttled` when over."""
        if not self._limiter.hit(self._per_key, "key", key_hash):
            return Throttled("key", self._retry_after(self._per_key, "key", key_hash))
        return None

    def flooding(self, site_id: str, anonymous_ids: list[str]) -> list[bool]:
        """Count a request's events per id (fixed window); for each event, whether it is
        past its id's flood threshold. One counter update per distinct id."""
        counts: dict[str, int] = {}
        for anonymous_id in anonymous_ids:
            counts[anonymous_id] = counts.get(anonymous_id, 0) + 1
        totals = {
            anonymous_id: self._storage.incr(
                f"flood/{site_id}/{anonymous_id}", self._flood_window, amount
            )
            - amount
            for anonymous_id, amount in counts.items()
        }
        flags = []
        for anonymous_id in anonymous_ids:
            totals[anonymous_id] += 1
            flags.append(totals[anonymous_id] > self._flood_threshold)
        return flags
