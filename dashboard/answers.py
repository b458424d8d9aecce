"""Answers kept for a few seconds, per token and query.

Charts of one page that share a query (the daily figures and the daily revenue) and every
visitor of a live page within one refresh ask the SQL endpoint once. Concurrent askers of the
same query wait for the first one's answer instead of running it again.
"""

from __future__ import annotations

import threading
from typing import Any

from cachetools import TTLCache

from base.sqlclient import SqlClient

Key = tuple[str, str, tuple[tuple[str, str], ...]]


class Answers:
    """A bounded, time-limited store of query answers, shared by the app's threads."""

    def __init__(self, ttl_s: float, size: int = 512) -> None:
        self.kept: TTLCache[Key, list[dict[str, Any]]] = TTLCache(size, ttl_s)
        self.lock = threading.Lock()
        self.asking: dict[Key, threading.Lock] = {}

    def rows(
        self, sql: SqlClient, token: str, query: str, params: dict[str, str]
    ) -> list[dict[str, Any]]:
        key: Key = (token, query, tuple(sorted(params.items())))
        with self.lock:
            kept: list[dict[str, Any]] | None = self.kept.get(key)
            if kept is not None:
                return kept
            asking = self.asking.setdefault(key, threading.Lock())
        with asking:
            with self.lock:
                kept = self.kept.get(key)
            if kept is not None:
                return kept
            found = sql.rows(query, params)
            with self.lock:
                self.kept[key] = found
                self.asking.pop(key, None)
            return found


class KeptSql:
    """The visitor's SQL client, answering repeated queries from ``Answers``."""

    def __init__(self, sql: SqlClient, token: str, answers: Answers) -> None:
        self.sql, self.token, self.answers = sql, token, answers

    def rows(self, query: str, params: dict[str, str] | None = None) -> list[dict[str, Any]]:
        return self.answers.rows(self.sql, self.token, query, params or {})
