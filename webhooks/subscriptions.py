"""Subscriptions kept in a TOML file of ``[[subscription]]`` tables.

The file is the source of truth: it is read at start, and every change made over the admin
API (add, remove, enable, disable) is written back to it atomically.

```toml
[[subscription]]
id = "crm"
site_id = "demo"
url = "https://crm.example.com/hooks/footfall"
secret = "whsec_…"
description = "Cart recovery e-mails"
enabled = true
events = ["journey.cart_abandoned", "segment.entered"]
segments = ["champions"]
```
"""

from __future__ import annotations

import logging
import os
import tomllib
from pathlib import Path

import tomli_w
from pydantic import ValidationError

from schemas.webhooks import Subscription

log = logging.getLogger("footfall.webhooks")


class SubscriptionError(ValueError):
    """A subscription file or change that cannot be accepted."""


class UnknownSubscription(KeyError):
    """No subscription with that id."""


def to_toml(subscriptions: list[Subscription]) -> str:
    """The subscriptions file. Pure.

    Written by ``tomli-w``, so every string round-trips through ``tomllib``: emoji and other
    astral characters stay UTF-8 (JSON's ``\\ud83d`` surrogate escapes are not TOML), quotes,
    backslashes, newlines and control characters are escaped the TOML way.
    """
    tables = [s.model_dump(mode="json", exclude_none=True) for s in subscriptions]
    return tomli_w.dumps({"subscription": tables})


def from_toml(text: str) -> list[Subscription]:
    try:
        tables = tomllib.loads(text).get("subscription", [])
        subscriptions = [Subscription.model_validate(table) for table in tables]
    except (tomllib.TOMLDecodeError, ValidationError) as exc:
        raise SubscriptionError(f"bad subscriptions file: {exc}") from exc
    ids = [s.id for s in subscriptions]
    if len(set(ids)) != len(ids):
        raise SubscriptionError(f"duplicate subscription ids in {ids}")
    return subscriptions


class SubscriptionStore:
    """The subscriptions, re-read when the file is edited by hand while running.

    A file that fails to parse at start stops the process; one broken by an edit while
    running is reported and the last good subscriptions stay in use.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.by_id: dict[str, Subscription] = {}
        self.seen: float | None = None
        self.refresh(strict=True)

    def modified(self) -> float | None:
        try:
            return self.path.stat().st_mtime
        except FileNotFoundError:
            return None

    def refresh(self, strict: bool = False) -> None:
        stamp = self.modified()
        if stamp == self.seen:
            return
        self.seen = stamp
        if stamp is None:
            return
        try:
            self.by_id = {s.id: s for s in from_toml(self.path.read_text(encoding="utf-8"))}
        except SubscriptionError:
            if strict:
                raise
            log.error("kept the previous subscriptions: %s is invalid", self.path, exc_info=True)

    def all(self) -> list[Subscription]:
        self.refresh()
        return list(self.by_id.values())

    def get(self, subscription_id: str) -> Subscription:
        self.refresh()
        try:
            return self.by_id[subscription_id]
        except KeyError:
            raise UnknownSubscription(subscription_id) from None

    def find(self, subscription_id: str) -> Subscription | None:
        self.refresh()
        return self.by_id.get(subscription_id)

    def put(self, subscription: Subscription) -> Subscription:
        self.refresh()
        self.by_id[subscription.id] = subscription
        self.save()
        return subscription

    def remove(self, subscription_id: str) -> Subscription:
        gone = self.get(subscription_id)
        del self.by_id[subscription_id]
        self.save()
        return gone

    def set_enabled(self, subscription_id: str, enabled: bool, reason: str | None) -> Subscription:
        updated = self.get(subscription_id).model_copy(
            update={"enabled": enabled, "disabled_reason": None if enabled else reason}
        )
        return self.put(updated)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".toml.tmp")
        partial.write_text(to_toml(self.all()), encoding="utf-8")
        os.replace(partial, self.path)
        self.seen = self.modified()
