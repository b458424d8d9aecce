"""Profiles of inactive customers leave the worker when their site's retention ends. Pure.

The sink's TTL deletes the stored rows of a customer not seen for ``profile_ttl_days``; the
worker's live profile (its RocksDB table and changelog) and the compacted ``profiles`` topic
would keep them for good. A scan on a timer lists the profiles whose ``last_seen`` is older
than their site's retention and sends, per partition of ``events.identified``, an ``expire``
message with their keys: tables change only inside the agent that reads a key's partition.
That agent checks each profile again (an event may have come since the scan) and removes the
ones still inactive, with a tombstone in the changelog and on the ``profiles`` topic.

The links of browsers to a removed customer go too: the profile agent sends a
``forget_customers`` command, naming the customer's browsers (the profile keeps its last
eight), to the events partition of those browsers, whose identity agent takes the links out of
their histories (a browser left with none is removed). A browser linked to such a customer has
been as inactive as they have: its events would have reached their profile. Naming the
browsers keeps the cost to the entries concerned, not a scan of the identity table.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

import orjson

from schemas.privacy import ANONYMOUS_PREFIX
from stream_processors.erasure import partition_of
from stream_processors.identity import key_parts, table_key

FORGET_COMMAND = "forget_customers"

CHUNK = 500
"""Keys one expire message carries at most: its removal is one flush and one compaction."""


def inactive(value: Mapping[str, Any], now: datetime, days: int) -> bool:
    """A stored profile not seen for more than ``days`` days by ``now`` (0: kept forever)."""
    seen = value.get("last_seen")
    if days <= 0 or not isinstance(seen, str):
        return False
    return datetime.fromisoformat(seen) + timedelta(days=days) < now


def inactive_keys(
    items: Iterable[tuple[str, Any]], now: datetime, days_of: Callable[[str], int]
) -> list[str]:
    """The keys of the stored profiles ``days_of`` their site says to let go of by ``now``
    (asked once per site, not once per profile)."""
    days: dict[str, int] = {}
    found = []
    for key, value in items:
        site = key_parts(key)[0]
        if site not in days:
            days[site] = days_of(site)
        if isinstance(value, Mapping) and inactive(value, now, days[site]):
            found.append(key)
    return found


def expire_messages(
    keys: Iterable[str], now: datetime, partitions: int, chunk: int = CHUNK
) -> list[tuple[int, bytes]]:
    """The expire messages for ``keys``, each with the partition it must be sent to."""
    by_partition: dict[int, list[str]] = defaultdict(list)
    for key in keys:
        by_partition[partition_of(key.encode(), partitions)].append(key)
    return [
        (partition, orjson.dumps({"kind": "expire", "keys": part, "now": now.isoformat()}))
        for partition, found in sorted(by_partition.items())
        for part in (found[i : i + chunk] for i in range(0, len(found), chunk))
    ]


def forget_commands(
    removed: Iterable[str], profiles: Mapping[str, Any], partitions: int
) -> list[tuple[int, bytes]]:
    """The commands, each with the events partition it must be sent to, that forget the links
    of the browsers of the customers among ``removed`` (profile table keys; ``profiles`` their
    stored values; an anonymous profile has no links to forget)."""
    by_partition: dict[int, tuple[set[tuple[str, str]], set[str]]] = defaultdict(
        lambda: (set(), set())
    )
    for key in removed:
        site, customer = key_parts(key)
        if customer.startswith(ANONYMOUS_PREFIX):
            continue
        value = profiles.get(key)
        seen = value.get("anonymous_ids") if isinstance(value, Mapping) else None
        for anonymous_id in seen or []:
            browser = table_key(site, str(anonymous_id))
            wanted, browsers = by_partition[partition_of(browser.encode(), partitions)]
            wanted.add((site, customer))
            browsers.add(browser)
    return [
        (
            partition,
            orjson.dumps(
                {"command": FORGET_COMMAND, "customers": sorted(wanted), "browsers": sorted(found)}
            ),
        )
        for partition, (wanted, found) in sorted(by_partition.items())
    ]


def is_forget(body: Mapping[str, Any]) -> bool:
    return body.get("command") == FORGET_COMMAND


def forgotten_customers(body: Mapping[str, Any]) -> set[tuple[str, str]]:
    """The (site, customer id) pairs of a ``forget_customers`` command."""
    pairs = body.get("customers")
    if not isinstance(pairs, list):
        raise ValueError("a forget_customers command without its customers")
    return {(str(site), str(customer)) for site, customer in pairs}


def forgotten_browsers(body: Mapping[str, Any]) -> list[str]:
    """The identity keys (``site:anonymous id``) a ``forget_customers`` command names."""
    browsers = body.get("browsers")
    if not isinstance(browsers, list):
        raise ValueError("a forget_customers command without its browsers")
    return [str(browser) for browser in browsers]


def forget_links(
    entries: Iterable[tuple[str, Any]],
    customers: set[tuple[str, str]],
    partition: int,
    partitions: int,
) -> dict[str, dict[str, Any] | None]:
    """The identity entries of ``partition`` with links to ``customers``, as they become: the
    other links kept, or None when no link is left (the entry goes)."""
    changed: dict[str, dict[str, Any] | None] = {}
    for key, value in entries:
        if not isinstance(value, Mapping) or partition_of(key.encode(), partitions) != partition:
            continue
        links = value.get("links") or []
        site = key_parts(key)[0]
        kept = [link for link in links if (site, str(link.get("customer"))) not in customers]
        if len(kept) == len(links):
            continue
        changed[key] = {**value, "links": kept} if kept else None
    return changed
