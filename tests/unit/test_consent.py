"""Consent by purpose, pure: the signals an event may carry, the order-free fold a profile
keeps, the audit record of a change, and what the collector keeps without analytics consent."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from typing import Any, cast

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from collector.consent import daily_hash, effective, kept
from schemas.consent import Consent, ConsentState, marketing_withdrawn
from schemas.events import Envelope, Event
from schemas.privacy import AuditRecord, subject
from stream_processors.merging import merge_profiles
from stream_processors.messages import EventMessage
from stream_processors.profile import apply_event, new_profile
from stream_processors.profile_step import Applied, StepConfig, step
from tests.processors.events import at, make

NOW = datetime(2026, 11, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("signal", "analytics", "marketing"),
    [
        (True, True, True),  # the snippet's old consent(true)
        (False, False, False),
        ({"analytics": True, "marketing": False}, True, False),
        ({"marketing": False}, None, False),
        ({"analytics_storage": "granted", "ad_storage": "denied"}, True, False),
        (
            {"analytics_storage": "denied", "ad_storage": "granted", "ad_user_data": "granted"},
            False,
            True,
        ),
        ({"ad_storage": "granted", "ad_user_data": "denied"}, None, False),
        ({"functionality_storage": "granted"}, None, None),
    ],
)
def test_an_event_reads_old_switches_purposes_and_consent_mode(
    signal: Any, analytics: bool | None, marketing: bool | None
) -> None:
    event = make("page_view", context={"consent": signal})
    assert event.context.consent == Consent(analytics=analytics, marketing=marketing)


def consented(when: datetime, **signals: bool) -> Envelope:
    return make("page_view", when, context={"consent": signals})


SIGNALS = [
    consented(at(0), analytics=True, marketing=True),
    consented(at(1), marketing=False),
    make("page_view", at(2)),  # says nothing: changes nothing
    consented(at(3), analytics=False),
    consented(at(1), marketing=True),  # the same instant as a denial: the event id decides
]


@given(st.permutations(SIGNALS))
def test_the_latest_consent_in_event_time_wins_in_any_order(events: list[Envelope]) -> None:
    profile = new_profile("shop", "c1")
    for event in events:
        profile = apply_event(profile, event)
    expected = new_profile("shop", "c1")
    for event in sorted(SIGNALS, key=lambda e: (e.occurred_at, str(e.event_id))):
        expected = apply_event(expected, event)
    assert profile.consent == expected.consent
    assert profile.consent.analytics is not None
    assert not profile.consent.analytics.granted
    assert profile.consent.analytics.at == at(3)


def test_a_merge_keeps_the_latest_consent_of_both_profiles() -> None:
    browser = apply_event(new_profile("shop", "anon-b1"), consented(at(5), marketing=False))
    customer = apply_event(new_profile("shop", "c1"), consented(at(2), marketing=True))
    for into, other in itertools.permutations([browser, customer]):
        mark = merge_profiles(into, other).consent.marketing
        assert mark is not None
        assert not mark.granted
        assert mark.at == at(5)


def message(event: Envelope) -> EventMessage:
    return EventMessage(kind="event", site_id="shop", profile_id="c1", event=event, source=None)


def test_a_consent_change_is_urgent_and_audited_and_an_older_signal_is_neither() -> None:
    granted = step(
        new_profile("shop", "c1"), message(consented(at(1), marketing=True)), StepConfig(), NOW, 0.0
    )
    assert isinstance(granted, Applied)
    withdrawn = step(
        granted.after, message(consented(at(2), marketing=False)), StepConfig(), NOW, 0.0
    )
    assert isinstance(withdrawn, Applied)
    assert withdrawn.urgent
    (audit,) = [
        AuditRecord.model_validate_json(v) for role, _, v in withdrawn.records if role == "audit"
    ]
    assert audit.action == "consent.changed"
    assert audit.target == subject("shop", "c1")  # the profile by its subject, not its id
    assert audit.detail == "analytics=unknown marketing=denied"
    snapshot = orjson.loads(withdrawn.after.model_dump_json())
    assert marketing_withdrawn(snapshot)
    older = step(withdrawn.after, message(consented(at(0), marketing=True)), StepConfig(), NOW, 0.0)
    assert isinstance(older, Applied)
    assert not older.urgent
    assert all(role != "audit" for role, _, _ in older.records)
    assert marketing_withdrawn(orjson.loads(older.after.model_dump_json()))
    assert not marketing_withdrawn(orjson.loads(granted.after.model_dump_json()))
    assert ConsentState() == new_profile("shop", "x").consent


def test_required_sites_count_an_unsaid_purpose_as_denied() -> None:
    assert effective(None, "assumed") is None
    assert effective(None, "required") == Consent(analytics=False, marketing=False)
    assert effective(Consent(analytics=True), "required") == Consent(
        analytics=True, marketing=False
    )
    # Marketing without analytics would be about someone the shop may not know.
    assert effective(Consent(analytics=False, marketing=True), "required") == Consent(
        analytics=False, marketing=False
    )


def test_the_daily_hash_is_stable_for_a_day_and_unlinkable_across_days() -> None:
    one = daily_hash("k", date(2026, 1, 1), "browser-1")
    assert one == daily_hash("k", date(2026, 1, 1), "browser-1")
    assert one != daily_hash("k", date(2026, 1, 2), "browser-1")
    assert one != daily_hash("other-site", date(2026, 1, 1), "browser-1")
    assert "browser-1" not in one


def event(kind: str, **fields: Any) -> Event:
    """An event as the collector has it (the typed union ``make`` widens to Envelope)."""
    return cast(Event, make(kind, **fields))


def test_without_analytics_consent_nothing_identifying_is_kept() -> None:
    context = {
        "consent": {"analytics_storage": "denied"},
        "user_agent": "Mozilla/5.0 Secret",
        "ip": "203.0.113.0",
        "url": "https://a.example/p?email=ann@example.com",
        "path": "/p",
        "screen": "1280x720",
    }
    view = event("page_view", customer_id="ann", context=context)
    stored = kept(view, "assumed", "k", date(2026, 1, 1))
    assert stored is not None
    text = stored.model_dump_json()
    for secret in ("ann", "browser-1", "Secret", "203.0.113", "1280x720", '"s1"'):
        assert secret not in text, secret
    assert stored.context.path == "/p"
    assert stored.context.consent == Consent(analytics=False, marketing=False)
    identify = event(
        "identify", customer_id="ann", context=context, properties={"traits": {"email": "a@x"}}
    )
    assert kept(identify, "assumed", "k", date(2026, 1, 1)) is None
    change = event(
        "custom",
        customer_id="ann",
        context=context,
        properties={"name": "consent", "data": {"x": 1}},
    )
    recorded = kept(change, "assumed", "k", date(2026, 1, 1))
    assert recorded is not None  # the withdrawal reaches the profile: it keeps the ids only
    assert (recorded.anonymous_id, recorded.customer_id) == ("browser-1", "ann")
    assert recorded.model_dump(exclude_none=True)["context"] == {
        "consent": {"analytics": False},
        "utm": {},
    }
    same = event("page_view", customer_id="ann")
    assert kept(same, "assumed", "k", date(2026, 1, 1)) is same  # old clients: as before
