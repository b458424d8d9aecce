"""The pure parts of an erasure: subjects, which keys go, which rows are dropped, the status."""

from __future__ import annotations

from datetime import UTC, datetime

from schemas.privacy import (
    IDENTITY,
    PROFILES,
    SINK,
    EraseRequest,
    ErasureReport,
    erasure_status,
    expected_parts,
    subject,
)
from sinks.erasure import is_erased_row
from sinks.rows import DLQ_COLUMNS, EVENT_COLUMNS
from stream_processors.erasure import linked_browsers, partition_of, profile_keys
from webhooks.summary import summarize, without_personal

AT = datetime(2026, 10, 1, tzinfo=UTC)
REQUEST = EraseRequest(
    request_id="r1",
    site_id="shop",
    subject=subject("shop", "c1"),
    requested_by="t",
    requested_at=AT,
)


def test_a_browser_and_its_anonymous_profile_share_a_subject_and_sites_do_not() -> None:
    assert subject("shop", "anon-b1") == subject("shop", "b1")
    assert subject("shop", "c1") != subject("other", "c1")
    assert "c1" not in subject("shop", "c1")


def test_only_the_browsers_of_the_partition_linked_to_the_customer_go() -> None:
    entries = [
        (f"shop:b{n}", {"links": [{"customer": "c1" if n % 2 else "c2"}]}) for n in range(40)
    ]
    entries.append(("other:b1", {"links": [{"customer": "c1"}]}))  # another site's c1
    found: dict[str, set[str]] = {}
    for partition in range(4):
        here = linked_browsers(entries, REQUEST, partition, 4)
        assert all(partition_of(key.encode(), 4) == partition for key in here)
        found |= here
    assert set(found) == {f"shop:b{n}" for n in range(1, 40, 2)}
    assert set().union(*found.values()) == {"c1"}


def test_the_profiles_of_the_subjects_go_on_their_own_partition() -> None:
    keys = ["shop:c1", "shop:anon-b1", "shop:c2", "other:c1"]
    subjects = {subject("shop", "c1"), subject("shop", "b1")}
    chosen = [k for p in range(4) for k in profile_keys(keys, "shop", subjects, p, 4)]
    assert sorted(chosen) == ["shop:anon-b1", "shop:c1"]


def test_rows_of_erased_customers_are_recognised_in_events_and_dlq_payloads() -> None:
    erased = {subject("shop", "b1")}
    event = ["" for _ in EVENT_COLUMNS]
    event[EVENT_COLUMNS.index("site_id")] = "shop"
    event[EVENT_COLUMNS.index("anonymous_id")] = "b1"
    assert is_erased_row("events", EVENT_COLUMNS, event, erased)
    event[EVENT_COLUMNS.index("anonymous_id")] = "b2"
    assert not is_erased_row("events", EVENT_COLUMNS, event, erased)
    dlq = ["shop", "", "", "", '{"kind":"event","event":{"anonymous_id":"b1"}}', "", "", 0, 0]
    assert is_erased_row("dlq_events", DLQ_COLUMNS, dlq, erased)


def report(component: str, part: str, removed: int) -> ErasureReport:
    return ErasureReport(
        request_id="r1",
        site_id="shop",
        component=component,
        part=part,
        removed={"rows": removed},
        at=AT,
    )


def test_done_only_once_every_part_confirmed_and_a_replayed_report_counts_once() -> None:
    expected = expected_parts(2, with_dispatcher=False)
    reports = [report(IDENTITY, "0", 1), report(IDENTITY, "1", 2)]
    reports += [report(PROFILES, f"{p}->{q}", 1) for p in range(2) for q in range(2)]
    pending = erasure_status(REQUEST, reports, expected)
    assert pending.status == "pending"
    assert pending.waiting_for == ["sink"]
    replayed = report(IDENTITY, "1", 0)  # read again after a crash: nothing left to remove
    done = erasure_status(REQUEST, [*reports, replayed, report(SINK, "", 5)], expected)
    assert done.status == "done"
    assert done.removed == {"rows": 1 + 2 + 4 + 5}


def test_personal_traits_leave_a_summary_unless_the_subscription_asks() -> None:
    traits = {"email": "a@x.io", "phone": "+1", "name": "Ann", "plan": "gold"}
    summary = summarize("ann", None, [], None, traits, None)
    assert summary.email == "a@x.io"
    shown = without_personal(summary)
    assert (shown.email, shown.phone) == (None, None)
    assert shown.traits == {"plan": "gold"}
