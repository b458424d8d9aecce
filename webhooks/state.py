"""The dispatcher's local state in one SQLite file in its data directory.

It holds the latest profile snapshot per profile (built from the compacted ``profiles``
topic, with the read positions, so a restart resumes where it stopped), what the events
taught about each profile (segments, cart, traits, orders), which deliveries succeeded,
the outbox of recent deliveries (for replay by time range) and each endpoint's failure streak.
Everything here can be rebuilt from Kafka; losing the file costs duplicates, never deliveries.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from schemas.privacy import subject
from schemas.webhooks import Cart, Delivery, LastOrder

SCHEMA = """
CREATE TABLE IF NOT EXISTS profiles (key TEXT PRIMARY KEY, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS positions (
    topic TEXT, partition INTEGER, next_offset INTEGER, PRIMARY KEY (topic, partition));
CREATE TABLE IF NOT EXISTS memberships (
    key TEXT, segment TEXT, PRIMARY KEY (key, segment));
CREATE TABLE IF NOT EXISTS carts (key TEXT PRIMARY KEY, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS traits (key TEXT PRIMARY KEY, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS links (key TEXT PRIMARY KEY, customer_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orders (
    key TEXT PRIMARY KEY, first_order_id TEXT NOT NULL, last_order BLOB);
CREATE TABLE IF NOT EXISTS delivered (delivery_id TEXT PRIMARY KEY, at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS handled (key TEXT PRIMARY KEY, at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
    delivery_id TEXT PRIMARY KEY, subscription_id TEXT NOT NULL, created_at TEXT NOT NULL,
    body BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS outbox_created ON outbox (created_at);
CREATE TABLE IF NOT EXISTS streaks (
    subscription_id TEXT PRIMARY KEY, failures INTEGER NOT NULL, first_failure_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS recipients (
    subject TEXT, subscription_id TEXT, delivery_id TEXT, profile_id TEXT,
    PRIMARY KEY (subject, delivery_id));
CREATE TABLE IF NOT EXISTS erased (subject TEXT PRIMARY KEY, request_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS erasure_parts (
    request_id TEXT, part TEXT, PRIMARY KEY (request_id, part));
"""

KEYED_TABLES = ("profiles", "memberships", "carts", "traits", "orders")
"""Tables keyed by ``site:profile id``, emptied of an erased customer's keys."""


def subject_of(stored_key: str) -> str:
    """The subject of a ``site:id`` key (SQLite calls it as ``subject_of``)."""
    site, _, id_ = stored_key.partition(":")
    return subject(site, id_)


@dataclass(frozen=True)
class Erased:
    """What the state held about an erased customer, now gone."""

    removed: dict[str, int]
    recipients: dict[str, list[str]]
    """subscription id → the profile ids it received data about."""
    delivery_ids: list[str]


def key(site_id: str, profile_id: str) -> str:
    return f"{site_id}:{profile_id}"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


class DispatcherState:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA secure_delete=ON")  # an erased row leaves no bytes behind
        self.db.create_function("subject_of", 1, subject_of, deterministic=True)
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def one(self, sql: str, *args: Any) -> Any:
        row = self.db.execute(sql, args).fetchone()
        return None if row is None else row[0]

    # -------------------------------------------------------------- profile snapshots

    def put_profiles(
        self, snapshots: list[tuple[str, bytes | None]], positions: dict[tuple[str, int], int]
    ) -> None:
        """Store snapshots (``None`` = tombstone) and the positions after them, atomically."""
        with self.db:
            self.db.execute("BEGIN")
            for snapshot_key, body in snapshots:
                if body is None:
                    self.db.execute("DELETE FROM profiles WHERE key = ?", (snapshot_key,))
                else:
                    self.db.execute(
                        "INSERT OR REPLACE INTO profiles VALUES (?, ?)", (snapshot_key, body)
                    )
            for (topic, partition), offset in positions.items():
                self.db.execute(
                    "INSERT OR REPLACE INTO positions VALUES (?, ?, ?)", (topic, partition, offset)
                )

    def position(self, topic: str, partition: int) -> int | None:
        found: int | None = self.one(
            "SELECT next_offset FROM positions WHERE topic = ? AND partition = ?", topic, partition
        )
        return found

    def profile(self, site_id: str, profile_id: str) -> dict[str, Any] | None:
        body = self.one("SELECT body FROM profiles WHERE key = ?", key(site_id, profile_id))
        if body is None:
            return None
        snapshot: dict[str, Any] = orjson.loads(body)
        return snapshot

    def profile_count(self) -> int:
        count: int = self.one("SELECT count(*) FROM profiles")
        return count

    # -------------------------------------------------------------- what events taught

    def set_membership(self, site_id: str, profile_id: str, segment: str, member: bool) -> None:
        if member:
            sql = "INSERT OR IGNORE INTO memberships VALUES (?, ?)"
        else:
            sql = "DELETE FROM memberships WHERE key = ? AND segment = ?"
        self.db.execute(sql, (key(site_id, profile_id), segment))

    def segments(self, site_id: str, profile_id: str) -> list[str]:
        rows = self.db.execute(
            "SELECT segment FROM memberships WHERE key = ? ORDER BY segment",
            (key(site_id, profile_id),),
        )
        return [row[0] for row in rows]

    def cart(self, site_id: str, profile_id: str) -> Cart:
        body = self.one("SELECT body FROM carts WHERE key = ?", key(site_id, profile_id))
        return Cart() if body is None else Cart.model_validate_json(body)

    def set_cart(self, site_id: str, profile_id: str, cart: Cart) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO carts VALUES (?, ?)",
            (key(site_id, profile_id), cart.model_dump_json().encode()),
        )

    def traits(self, site_id: str, profile_id: str) -> dict[str, Any]:
        body = self.one("SELECT body FROM traits WHERE key = ?", key(site_id, profile_id))
        found: dict[str, Any] = {} if body is None else orjson.loads(body)
        return found

    def merge_traits(self, site_id: str, profile_id: str, traits: dict[str, Any]) -> None:
        merged = self.traits(site_id, profile_id) | traits
        self.db.execute(
            "INSERT OR REPLACE INTO traits VALUES (?, ?)",
            (key(site_id, profile_id), orjson.dumps(merged)),
        )

    def link(self, site_id: str, anonymous_id: str, customer_id: str) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO links VALUES (?, ?)", (key(site_id, anonymous_id), customer_id)
        )

    def linked(self, site_id: str, anonymous_id: str) -> str | None:
        found: str | None = self.one(
            "SELECT customer_id FROM links WHERE key = ?", key(site_id, anonymous_id)
        )
        return found

    def record_order(self, site_id: str, profile_id: str, order: LastOrder) -> bool:
        """Remember an order; whether it is the profile's first (stable when read again)."""
        k = key(site_id, profile_id)
        body = order.model_dump_json().encode()
        self.db.execute(
            "INSERT INTO orders VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET last_order = ?",
            (k, order.order_id, body, body),
        )
        first: str = self.one("SELECT first_order_id FROM orders WHERE key = ?", k)
        return first == order.order_id

    def last_order(self, site_id: str, profile_id: str) -> LastOrder | None:
        body = self.one("SELECT last_order FROM orders WHERE key = ?", key(site_id, profile_id))
        return None if body is None else LastOrder.model_validate_json(body)

    # -------------------------------------------------------------- deliveries

    def mark_delivered(self, delivery_id: str, at: datetime) -> None:
        self.db.execute("INSERT OR IGNORE INTO delivered VALUES (?, ?)", (delivery_id, iso(at)))

    def was_delivered(self, delivery_id: str) -> bool:
        return self.one("SELECT 1 FROM delivered WHERE delivery_id = ?", delivery_id) is not None

    def mark_handled(self, handled_key: str, at: datetime) -> None:
        """An attempt whose follow-up (next try, DLQ or success) is safely recorded."""
        self.db.execute("INSERT OR IGNORE INTO handled VALUES (?, ?)", (handled_key, iso(at)))

    def was_handled(self, handled_key: str) -> bool:
        return self.one("SELECT 1 FROM handled WHERE key = ?", handled_key) is not None

    def keep(self, delivery: Delivery) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO outbox VALUES (?, ?, ?, ?)",
            (
                delivery.delivery_id,
                delivery.subscription_id,
                iso(delivery.created_at),
                delivery.model_dump_json().encode(),
            ),
        )

    def kept(self, since: datetime, until: datetime, subscription_id: str | None) -> list[Delivery]:
        sql = "SELECT body FROM outbox WHERE created_at >= ? AND created_at < ?"
        args: list[Any] = [iso(since), iso(until)]
        if subscription_id:
            sql += " AND subscription_id = ?"
            args.append(subscription_id)
        rows = self.db.execute(sql + " ORDER BY created_at", args)
        return [Delivery.model_validate_json(row[0]) for row in rows]

    def forget_before(self, moment: datetime) -> None:
        self.db.execute("DELETE FROM outbox WHERE created_at < ?", (iso(moment),))
        self.db.execute("DELETE FROM delivered WHERE at < ?", (iso(moment),))
        self.db.execute("DELETE FROM handled WHERE at < ?", (iso(moment),))

    # -------------------------------------------------------------- endpoint health

    def failure(self, subscription_id: str, at: datetime) -> tuple[int, datetime]:
        self.db.execute(
            "INSERT INTO streaks VALUES (?, 1, ?) ON CONFLICT (subscription_id) "
            "DO UPDATE SET failures = failures + 1",
            (subscription_id, iso(at)),
        )
        row = self.db.execute(
            "SELECT failures, first_failure_at FROM streaks WHERE subscription_id = ?",
            (subscription_id,),
        ).fetchone()
        return int(row[0]), datetime.fromisoformat(row[1])

    def success(self, subscription_id: str) -> None:
        self.db.execute("DELETE FROM streaks WHERE subscription_id = ?", (subscription_id,))

    # -------------------------------------------------------------- erasure

    def add_recipient(self, site_id: str, profile_id: str, delivery: Delivery) -> None:
        """Remember that a subscription received data about a profile."""
        self.db.execute(
            "INSERT OR IGNORE INTO recipients VALUES (?, ?, ?, ?)",
            (
                subject(site_id, profile_id),
                delivery.subscription_id,
                delivery.delivery_id,
                profile_id,
            ),
        )

    def mark_erased(self, subjects: list[str], request_id: str) -> None:
        self.db.executemany(
            "INSERT OR IGNORE INTO erased VALUES (?, ?)", [(s, request_id) for s in subjects]
        )

    def is_erased(self, site_id: str, profile_id: str) -> bool:
        found = self.one("SELECT 1 FROM erased WHERE subject = ?", subject(site_id, profile_id))
        return found is not None

    def erased_by(self, request_id: str) -> list[str]:
        rows = self.db.execute("SELECT subject FROM erased WHERE request_id = ?", (request_id,))
        return sorted(row[0] for row in rows)

    def is_erased_key(self, stored_key: str) -> bool:
        """Whether a ``site:profile id`` key belongs to an erased customer."""
        site, _, id_ = stored_key.partition(":")
        return self.is_erased(site, id_)

    def erasure_part(self, request_id: str, part: str) -> int:
        """Record an identity part of a request as seen; how many are seen now."""
        self.db.execute("INSERT OR IGNORE INTO erasure_parts VALUES (?, ?)", (request_id, part))
        seen: int = self.one("SELECT count(*) FROM erasure_parts WHERE request_id = ?", request_id)
        return seen

    def who_received(self, subjects: list[str]) -> Erased:
        """The subscriptions that received data about ``subjects``, and the deliveries."""
        marks = ",".join("?" * len(subjects))
        rows = self.db.execute(
            f"SELECT subscription_id, profile_id, delivery_id FROM recipients "
            f"WHERE subject IN ({marks})",
            subjects,
        ).fetchall()
        recipients: dict[str, set[str]] = {}
        for subscription_id, profile_id, _ in rows:
            recipients.setdefault(subscription_id, set()).add(profile_id)
        return Erased(
            removed={},
            recipients={s: sorted(ids) for s, ids in recipients.items()},
            delivery_ids=sorted({row[2] for row in rows}),
        )

    def erase(self, subjects: list[str]) -> Erased:
        """Remove everything held about ``subjects``, in one transaction, and checkpoint the
        write-ahead log so the file holds none of it either."""
        told = self.who_received(subjects)
        marks = ",".join("?" * len(subjects))
        ids = told.delivery_ids
        id_marks = ",".join("?" * len(ids))
        removed: dict[str, int] = {}
        with self.db:
            self.db.execute("BEGIN")
            for table in KEYED_TABLES:
                cursor = self.db.execute(
                    f"DELETE FROM {table} WHERE subject_of(key) IN ({marks})", subjects
                )
                removed[f"dispatcher {table}"] = cursor.rowcount
            cursor = self.db.execute(
                f"DELETE FROM links WHERE subject_of(key) IN ({marks}) "
                f"OR subject_of(substr(key, 1, instr(key, ':')) || customer_id) IN ({marks})",
                [*subjects, *subjects],
            )
            removed["dispatcher links"] = cursor.rowcount
            if ids:
                for table, column in (("outbox", "delivery_id"), ("delivered", "delivery_id")):
                    cursor = self.db.execute(
                        f"DELETE FROM {table} WHERE {column} IN ({id_marks})", ids
                    )
                    removed[f"dispatcher {table}"] = cursor.rowcount
                for delivery_id in ids:
                    self.db.execute("DELETE FROM handled WHERE key LIKE ?", (f"{delivery_id}:%",))
            cursor = self.db.execute(f"DELETE FROM recipients WHERE subject IN ({marks})", subjects)
            removed["dispatcher recipients"] = cursor.rowcount
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return Erased(removed, told.recipients, ids)
