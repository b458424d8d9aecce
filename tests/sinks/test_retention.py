"""Retention per site: the settings become TTL rules that the engine itself enforces."""

from __future__ import annotations

import pytest
from clickhouse_connect.driver.client import Client
from pydantic import ValidationError

from base.retention import Kind, SiteRetention
from sinks.retention import apply_retention, ttl_rules
from sinks.settings import SinkSettings
from tests.sinks.scratch import scratch_database

FOREVER = {Kind.events: 0, Kind.inactive_profiles: 0, Kind.dlq: 0, Kind.webhook_log: 0}


def test_rules_group_sites_by_days_and_the_default_covers_the_rest() -> None:
    assert ttl_rules("at", 0, {}) is None
    assert ttl_rules("at", 30, {}) == "toDateTime(at) + toIntervalDay(30)"
    assert ttl_rules("at", 90, {"b": 30, "a": 30, "keep": 0, "c": None}) == (
        "toDateTime(at) + toIntervalDay(30) WHERE site_id IN ('a', 'b'), "
        "toDateTime(at) + toIntervalDay(90) WHERE site_id IN ('c'), "
        "toDateTime(at) + toIntervalDay(90) WHERE site_id NOT IN ('a', 'b', 'c', 'keep')"
    )
    only_a = "toDateTime(at) + toIntervalDay(7) WHERE site_id IN ('a')"
    assert ttl_rules("at", 0, {"a": 7}) == only_a


def test_a_site_id_that_is_not_plain_is_refused_by_the_settings() -> None:
    with pytest.raises(ValidationError, match="not a plain id"):
        SinkSettings(retention_sites={"a') OR 1 --": SiteRetention(events_days=1)})


def insert_events(client: Client, rows: list[tuple[str, int]]) -> None:
    values = ", ".join(
        f"(generateUUIDv4(), '{site}', 'page_view', now64(3) - INTERVAL {days} DAY)"
        for site, days in rows
    )
    client.command(f"INSERT INTO events (event_id, site_id, type, occurred_at) VALUES {values}")


def kept(client: Client, table: str) -> list[tuple[str, int]]:
    client.command(f"OPTIMIZE TABLE {table} FINAL")
    rows = client.query(
        f"SELECT site_id, dateDiff('day', occurred_at, now64(3)) FROM {table} ORDER BY site_id, 2"
    ).result_rows
    return [(str(site), int(days)) for site, days in rows]


def test_each_site_keeps_its_events_for_its_own_time_in_every_events_table() -> None:
    with scratch_database("retention_events") as client:
        insert_events(
            client,
            [("short", 40), ("short", 5), ("forever", 4000), ("other", 400), ("other", 50)],
        )
        defaults = FOREVER | {Kind.events: 90}
        sites = {"short": SiteRetention(events_days=30), "forever": SiteRetention(events_days=0)}
        ran = apply_retention(client, defaults, sites)
        assert [statement.split(" MODIFY")[0] for statement in ran] == [
            "ALTER TABLE events",
            "ALTER TABLE events_by_type",
            "ALTER TABLE overflow_events",
        ]
        assert apply_retention(client, defaults, sites) == []  # already so: nothing on restart
        want = [("forever", 4000), ("other", 50), ("short", 5)]
        assert kept(client, "events") == want
        assert kept(client, "events_by_type") == want  # the dashboard's copy goes too
        assert apply_retention(client, FOREVER, {}) == [
            "ALTER TABLE events REMOVE TTL",
            "ALTER TABLE events_by_type REMOVE TTL",
            "ALTER TABLE overflow_events REMOVE TTL",
        ]


def test_inactive_profiles_dlq_rows_and_the_delivery_log_have_their_own_columns() -> None:
    with scratch_database("retention_others") as client:
        defaults = {Kind.events: 0, Kind.inactive_profiles: 365, Kind.dlq: 14, Kind.webhook_log: 7}
        ran = apply_retention(client, defaults, {"eu": SiteRetention(dlq_days=3)})
        assert ran == [
            "ALTER TABLE profiles MODIFY TTL toDateTime(last_seen) + toIntervalDay(365)",
            "ALTER TABLE dlq_events MODIFY TTL toDateTime(received_at) + toIntervalDay(3) "
            "WHERE site_id IN ('eu'), toDateTime(received_at) + toIntervalDay(14) "
            "WHERE site_id NOT IN ('eu')",
            "ALTER TABLE webhook_deliveries MODIFY TTL toDateTime(at) + toIntervalDay(7)",
        ]
        client.command(
            "INSERT INTO profiles (site_id, profile_id, version, last_seen) VALUES "
            "('eu', 'gone', 1, now64(3) - INTERVAL 400 DAY), "
            "('eu', 'back', 1, now64(3) - INTERVAL 400 DAY), "
            "('eu', 'back', 2, now64(3) - INTERVAL 2 DAY)"
        )
        client.command("OPTIMIZE TABLE profiles FINAL")
        rows = client.query("SELECT profile_id, version FROM profiles FINAL").result_rows
        assert [tuple(row) for row in rows] == [("back", 2)]
