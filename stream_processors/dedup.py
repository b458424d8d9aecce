"""Sets of short ids kept as sorted strings of fixed-width keys: event ids per receipt day
(the dedup window) and session ids (distinct sessions). Pure.

A key is 10 hex digits (40 bits). A profile holds at most a few thousand of them, so the
chance that two different ids of one profile share a key is below one in ten million, and
the sorted concatenation costs 10 bytes a key in the stored JSON.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left
from datetime import datetime

KEY_WIDTH = 10
SESSIONS_KEPT = 2048
"""Distinct sessions remembered per profile; beyond that each new-looking one counts."""


def keys_of(packed: str) -> list[str]:
    return [packed[i : i + KEY_WIDTH] for i in range(0, len(packed), KEY_WIDTH)]


def contains(packed: str, key: str) -> bool:
    keys = keys_of(packed)
    index = bisect_left(keys, key)
    return index < len(keys) and keys[index] == key


def with_key(packed: str, key: str) -> str:
    """``packed`` with ``key`` added in its place (the same string when already there)."""
    keys = keys_of(packed)
    index = bisect_left(keys, key)
    if index < len(keys) and keys[index] == key:
        return packed
    return packed[: index * KEY_WIDTH] + key + packed[index * KEY_WIDTH :]


def union(a: str, b: str) -> str:
    return "".join(sorted(set(keys_of(a)) | set(keys_of(b))))


def hashed(value: str) -> str:
    return hashlib.blake2b(value.encode(), digest_size=KEY_WIDTH // 2).hexdigest()


# ---------------------------------------------------------------- the dedup window


def receipt_day(at: datetime) -> int:
    return int(at.timestamp() // 86400)


def seen_before(seen: dict[str, str], key: str) -> bool:
    return any(contains(packed, key) for packed in seen.values())


def prune(seen: dict[str, str], window_days: int) -> dict[str, str]:
    """The days within ``window_days`` of the newest one."""
    if not seen:
        return seen
    newest = max(int(day) for day in seen)
    return {day: keys for day, keys in seen.items() if int(day) > newest - window_days}


def remember_seen(seen: dict[str, str], key: str, day: int, window_days: int) -> dict[str, str]:
    """``seen`` with ``key`` received on ``day``; days out of the window dropped."""
    day_key = str(day)
    added = dict(seen)
    added[day_key] = with_key(seen.get(day_key, ""), key)
    return prune(added, window_days)


def merge_seen(a: dict[str, str], b: dict[str, str], window_days: int) -> dict[str, str]:
    merged = dict(a)
    for day, keys in b.items():
        merged[day] = union(merged.get(day, ""), keys)
    return prune(merged, window_days)


# ---------------------------------------------------------------- distinct sessions


def add_session(keys: str, count: int, session_id: str) -> tuple[str, int]:
    """Session keys and the distinct count after a session id was seen."""
    key = hashed(session_id)
    if contains(keys, key):
        return keys, count
    if len(keys) >= SESSIONS_KEPT * KEY_WIDTH:
        return keys, count + 1
    return with_key(keys, key), count + 1


def merge_sessions(a: tuple[str, int], b: tuple[str, int]) -> tuple[str, int]:
    """The sessions of two profiles: a session both saw counts once."""
    keys = union(a[0], b[0])
    beyond = (a[1] - len(a[0]) // KEY_WIDTH) + (b[1] - len(b[0]) // KEY_WIDTH)
    return keys, len(keys) // KEY_WIDTH + beyond
