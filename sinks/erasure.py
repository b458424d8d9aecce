"""What an erasure removes from ClickHouse, and which incoming rows it drops. Pure.

Every table that holds a customer's rows is named here with the columns that carry an id
(:data:`ID_COLUMNS`); a row matches when the subject of any of them (SHA-256 of site and id,
``anon-`` stripped, as :func:`schemas.privacy.subject`) is erased. The statements take the
subjects as a bound array, so no id travels in the SQL text. Aggregates are not left holding
the customer: their sessions rows go, and the daily funnel of their days is rebuilt from the
events that remain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from schemas.privacy import subject

ID_COLUMNS: dict[str, tuple[str, ...]] = {
    "events": ("anonymous_id", "customer_id"),
    "overflow_events": ("anonymous_id", "customer_id"),
    "profiles": ("profile_id", "customer_id", "merged_into"),
    "journey_transitions": ("profile_id",),
    "segment_changes": ("profile_id",),
    "sessions": ("anonymous_id",),
    "events_by_type": ("anonymous_id", "customer_id"),
    "segment_membership": ("profile_id",),
    "browser_customers": ("anonymous_id", "customer_id"),
}
"""Tables with a site_id and id columns, deleted by subject (the materialized copies too:
a view fills its table only from new inserts, never back from a deletion)."""

DLQ_IDS = ("anonymous_id", "customer_id", "profile_id")
"""Fields of a DLQ payload (or of its ``event``) that carry an id."""

FUNNEL_TYPES = ("page_view", "product_view", "cart_add", "checkout_started", "order_placed")
"""The event types of the ``daily_funnel`` view (migration 0002)."""


def hashed(expression: str) -> str:
    """SQL for the subject of ``expression`` (an id column) in its row's site."""
    plain = f"replaceRegexpOne({expression}, '^anon-', '')"
    return f"lower(hex(SHA256(concat(site_id, ':', {plain}))))"


BOUND_SUBJECTS = "{subjects:Array(String)}"


def matching(columns: Sequence[str], subjects: str = BOUND_SUBJECTS) -> str:
    """The WHERE condition of rows whose ids are among ``subjects`` (an SQL array)."""
    tests = [f"({c} != '' AND {hashed(c)} IN {subjects})" for c in columns]
    return "site_id = {site:String} AND (" + " OR ".join(tests) + ")"


def dlq_matching(subjects: str = BOUND_SUBJECTS) -> str:
    fields = [f"JSONExtractString(payload, '{name}')" for name in DLQ_IDS]
    fields += [f"JSONExtractString(payload, 'event', '{name}')" for name in DLQ_IDS]
    return matching(fields, subjects)


@dataclass(frozen=True)
class Deletion:
    store: str
    table: str
    where: str


def deletions() -> list[Deletion]:
    """Every subject-matched deletion, ``sessions`` before ``events`` (its ids come first)."""
    made = [Deletion(f"clickhouse {t}", t, matching(cols)) for t, cols in ID_COLUMNS.items()]
    made.append(Deletion("clickhouse dlq_events", "dlq_events", dlq_matching()))
    return made


EVENT_DAYS = "SELECT DISTINCT toDate(occurred_at) FROM events WHERE " + matching(
    ID_COLUMNS["events"]
)
EVENT_SESSIONS = "SELECT DISTINCT session_id FROM events WHERE session_id != '' AND " + matching(
    ID_COLUMNS["events"]
)
SESSIONS_OF = "site_id = {site:String} AND session_id IN {sessions:Array(String)}"
FUNNEL_OF_DAYS = "site_id = {site:String} AND day IN {days:Array(Date)}"
FUNNEL_REBUILD = (
    "INSERT INTO daily_funnel SELECT site_id, toDate(occurred_at) AS day, type, "
    "uniqExactState(event_id), uniqExactState(anonymous_id) FROM events "
    "WHERE site_id = {site:String} AND toDate(occurred_at) IN {days:Array(Date)} "
    "AND type IN {types:Array(String)} GROUP BY site_id, day, type"
)
DELIVERIES_OF = "delivery_id IN {ids:Array(String)}"


def row_ids(table: str, columns: Sequence[str], row: Sequence[Any]) -> tuple[str, list[str]]:
    """(site, ids) of a row the sink is about to insert into ``table``."""
    site = str(row[columns.index("site_id")]) if "site_id" in columns else ""
    if table == "dlq_events":
        return site, payload_ids(str(row[columns.index("payload")]))
    names = ID_COLUMNS.get(table, ())
    return site, [str(row[columns.index(name)]) for name in names if row[columns.index(name)]]


def payload_ids(payload: str) -> list[str]:
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return []
    if not isinstance(body, dict):
        return []
    inner = body.get("event")
    found = [body.get(name) for name in DLQ_IDS]
    if isinstance(inner, dict):
        found += [inner.get(name) for name in DLQ_IDS]
    return [value for value in found if isinstance(value, str) and value]


def is_erased_row(table: str, columns: Sequence[str], row: Sequence[Any], erased: set[str]) -> bool:
    site, ids = row_ids(table, columns, row)
    return any(subject(site, id_) in erased for id_ in ids)
