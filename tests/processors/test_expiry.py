"""Which live profiles are inactive past their site's retention, and the messages that ask
each partition's agent to remove them (pure; the removal itself runs in
``tests/integration/test_erasure.py``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
from hypothesis import given
from hypothesis import strategies as st

from base.retention import Kind, RetentionSettings, SiteRetention
from stream_processors.erasure import partition_of
from stream_processors.expiry import (
    expire_messages,
    forget_commands,
    forget_links,
    forgotten_browsers,
    forgotten_customers,
    inactive,
    inactive_keys,
    is_forget,
)
from stream_processors.messages import ExpireMessage, parse_identified

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def seen(days_ago: float) -> dict[str, str]:
    return {"last_seen": (NOW - timedelta(days=days_ago)).isoformat()}


def test_a_profile_goes_only_once_its_site_retention_has_passed() -> None:
    assert inactive(seen(31), NOW, 30)
    assert not inactive(seen(29.9), NOW, 30)
    assert not inactive(seen(3000), NOW, 0)  # 0 keeps profiles forever
    assert not inactive({}, NOW, 30)  # never seen (a profile only merged into): kept


def test_each_site_keeps_its_own_retention() -> None:
    settings = RetentionSettings(
        profile_ttl_days=30,
        retention_sites={
            "eu": SiteRetention(inactive_profiles_days=7),
            "archive": SiteRetention(inactive_profiles_days=0),
            "us": SiteRetention(events_days=3),  # inactive profiles: the default
        },
    )
    items = [
        ("eu:a", seen(8)),
        ("eu:b", seen(6)),
        ("archive:c", seen(900)),
        ("us:d", seen(31)),
        ("us:e", seen(29)),
        ("other:f", seen(31)),
        ("other:g", "not a stored profile"),
    ]
    days = lambda site: settings.days(Kind.inactive_profiles, site)  # noqa: E731
    assert inactive_keys(items, NOW, days) == ["eu:a", "us:d", "other:f"]
    assert settings.ends(Kind.inactive_profiles)
    assert not RetentionSettings().ends(Kind.inactive_profiles)
    forever = RetentionSettings(retention_sites={"eu": SiteRetention(inactive_profiles_days=0)})
    assert not forever.ends(Kind.inactive_profiles)
    one_site = RetentionSettings(retention_sites={"eu": SiteRetention(inactive_profiles_days=1)})
    assert one_site.ends(Kind.inactive_profiles)


@given(
    keys=st.sets(st.text(min_size=1, max_size=12).map(lambda t: f"s:{t}"), max_size=300),
    partitions=st.integers(1, 8),
    chunk=st.integers(1, 50),
)
def test_every_key_is_asked_of_its_own_partition_once(
    keys: set[str], partitions: int, chunk: int
) -> None:
    messages = expire_messages(sorted(keys), NOW, partitions, chunk)
    asked: list[str] = []
    for partition, raw in messages:
        message = parse_identified(raw)
        assert isinstance(message, ExpireMessage)
        assert message.now == NOW
        assert 0 < len(message.keys) <= chunk
        assert {partition_of(k.encode(), partitions) for k in message.keys} == {partition}
        asked += message.keys
    assert sorted(asked) == sorted(keys)
    assert orjson.loads(messages[0][1])["kind"] == "expire" if messages else True


def test_the_links_to_removed_customers_are_forgotten_and_the_others_kept() -> None:
    def link(customer: str) -> dict[str, str]:
        return {"customer": customer, "since": "1", "at": NOW.isoformat(), "event_id": "e"}

    entries = [
        ("s:only-gone", {"links": [link("gone")], "offset": 9}),
        ("s:moved-on", {"links": [link("gone"), link("active")]}),
        ("s:active", {"links": [link("active")]}),
        ("other:same-id-other-site", {"links": [link("gone")]}),
    ]
    profiles = {
        "s:gone": {"anonymous_ids": ["only-gone", "moved-on"]},
        "s:none": {},
        "s:anon-solo": {"anonymous_ids": ["solo"]},  # an anonymous profile: no links
    }
    commands = forget_commands(["s:gone", "s:none", "s:anon-solo"], profiles, 4)
    named: list[str] = []
    for partition, raw in commands:
        command = orjson.loads(raw)
        assert is_forget(command)
        assert forgotten_customers(command) == {("s", "gone")}
        browsers = forgotten_browsers(command)
        assert {partition_of(b.encode(), 4) for b in browsers} == {partition}
        named += browsers
    assert sorted(named) == ["s:moved-on", "s:only-gone"]  # the customer's own browsers only
    changed = forget_links(entries, {("s", "gone")}, 0, 1)
    assert changed == {"s:only-gone": None, "s:moved-on": {"links": [link("active")]}}
    one_partition = forget_links(entries, {("s", "gone")}, 1, 2)
    assert set(one_partition) == {k for k in changed if partition_of(k.encode(), 2) == 1}
