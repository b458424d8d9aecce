"""How long the store keeps each kind of row, per site: ClickHouse TTL rules made from the
retention settings, applied when the sink starts.

Four kinds of data have a retention: raw events (``events``, its slim copy ``events_by_type``
and ``overflow_events``, by ``occurred_at``), profiles of inactive customers (``profiles``,
by ``last_seen``: every version of a profile not seen for that long), DLQ rows (by
``received_at``) and the webhook delivery log (by ``at``). Each has a default for every site
and may be set per site; 0 keeps rows forever. A table gets one TTL rule per retention with a
``WHERE`` on the sites it covers (``TTL … WHERE site_id IN (…)``), so one table holds sites
with different retentions and ClickHouse deletes each site's rows on its own schedule. Pure
but for :func:`apply_retention`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from base.retention import Kind, SiteRetention, literal
from sinks.clickhouse import Store

TABLES: dict[str, tuple[Kind, str]] = {
    "events": (Kind.events, "occurred_at"),
    "events_by_type": (Kind.events, "occurred_at"),
    "overflow_events": (Kind.events, "occurred_at"),
    "profiles": (Kind.inactive_profiles, "last_seen"),
    "dlq_events": (Kind.dlq, "received_at"),
    "webhook_deliveries": (Kind.webhook_log, "at"),
}
"""Per table, the retention that applies to it and the time column it counts from."""


def ttl_rules(column: str, default_days: int, per_site: Mapping[str, int | None]) -> str | None:
    """The TTL clause for one table as ClickHouse shows it in ``SHOW CREATE TABLE`` (None:
    keep everything): a rule per number of days of the sites set apart, then the default's
    rule for every other site."""
    by_days: dict[int, list[str]] = defaultdict(list)
    for site, days in sorted(per_site.items()):
        by_days[default_days if days is None else days].append(site)
    listed = ", ".join(literal(site) for site in sorted(per_site))
    rules = [
        f"toDateTime({column}) + toIntervalDay({days}) "
        f"WHERE site_id IN ({', '.join(literal(s) for s in sites)})"
        for days, sites in sorted(by_days.items())
        if days > 0
    ]
    if default_days > 0:
        rest = f" WHERE site_id NOT IN ({listed})" if per_site else ""
        rules.append(f"toDateTime({column}) + toIntervalDay({default_days}){rest}")
    return ", ".join(rules) or None


def current_rules(create_sql: str) -> str | None:
    """The TTL clause of a ``SHOW CREATE TABLE`` text, if it has one."""
    for line in create_sql.splitlines():
        if line.startswith("TTL "):
            return line.removeprefix("TTL ").strip()
    return None


def ttl_statement(table: str, create_sql: str, wanted: str | None) -> str | None:
    """The ALTER that gives ``table`` the ``wanted`` TTL clause, or None when it has it."""
    current = current_rules(create_sql)
    if current == wanted:
        return None
    if wanted is None:
        return f"ALTER TABLE {table} REMOVE TTL"
    return f"ALTER TABLE {table} MODIFY TTL {wanted}"


def wanted_rules(
    defaults: Mapping[Kind, int], sites: Mapping[str, SiteRetention]
) -> dict[str, str | None]:
    """Per table, the TTL clause the settings ask for."""
    wanted = {}
    for table, (kind, column) in TABLES.items():
        per_site = {
            site: getattr(retention, kind.value)
            for site, retention in sites.items()
            if getattr(retention, kind.value) is not None
        }
        wanted[table] = ttl_rules(column, defaults[kind], per_site)
    return wanted


def apply_retention(
    client: Store, defaults: Mapping[Kind, int], sites: Mapping[str, SiteRetention]
) -> list[str]:
    """Give every table the TTL its retention asks for; the statements run."""
    ran = []
    for table, rules in wanted_rules(defaults, sites).items():
        create_sql = str(client.query(f"SHOW CREATE TABLE {table}").result_rows[0][0])
        statement = ttl_statement(table, create_sql, rules)
        if statement is not None:
            client.command(statement)
            ran.append(statement)
    return ran
