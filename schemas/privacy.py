"""Erasure requests, the reports each store sends back, audit records, and the status. Pure.

An erasure travels as records on the ``privacy`` command topic, keyed by request id, that
the worker, the ClickHouse sink and the webhook dispatcher consume (a crash replays them):

1. ``erase``: asked through the sink's admin API (``footfall erase``). It names the customer
   only by :func:`subject`, a SHA-256 of site and id, so the topic and the erased-ids lists
   that outlive the raw topics never hold the id itself.
2. ``report``: one per store and part once its share is removed, with counts per store. The
   worker's identity step reports once per events partition, with the subjects of every
   browser it found linked to the customer; the profile step once per pair of partitions;
   the sink and the dispatcher once each when every identity part is in.

The request is ``done`` when every expected report is in (:func:`erasure_status`): done is
confirmed by the stores, never assumed.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, TypeAdapter

ANONYMOUS_PREFIX = "anon-"

IDENTITY = "worker.identity"
PROFILES = "worker.profiles"
SINK = "sink"
DISPATCHER = "dispatcher"
SINK_WEBHOOKS = "sink.webhooks"


def subject(site_id: str, id_: str) -> str:
    """The erased-ids form of a customer id, anonymous id or profile id of ``site_id``.

    ``anon-<browser>`` (the browser's anonymous profile) has the browser's own subject, so a
    browser and its profile are erased and filtered as one.
    """
    plain = id_.removeprefix(ANONYMOUS_PREFIX)
    return hashlib.sha256(f"{site_id}:{plain}".encode()).hexdigest()


class EraseRequest(BaseModel):
    kind: Literal["erase"] = "erase"
    request_id: str
    site_id: str
    subject: str = Field(description="subject(site_id, customer_id): the id is never stored.")
    requested_by: str
    requested_at: datetime


class ErasureReport(BaseModel):
    kind: Literal["report"] = "report"
    request_id: str
    site_id: str
    component: str
    part: str = Field(default="", description="Which share of the component: a partition.")
    subjects: list[str] = Field(
        default_factory=list, description="Further subjects found (the customer's browsers)."
    )
    delivery_ids: list[str] = Field(
        default_factory=list, description="Webhook deliveries about them (the dispatcher's)."
    )
    removed: dict[str, int] = Field(default_factory=dict, description="Rows removed per store.")
    at: datetime


PrivacyRecord = Annotated[EraseRequest | ErasureReport, Field(discriminator="kind")]
PRIVACY_ADAPTER: TypeAdapter[EraseRequest | ErasureReport] = TypeAdapter(PrivacyRecord)


def parse_privacy(raw: bytes) -> EraseRequest | ErasureReport:
    """A record of the privacy topic (raises pydantic's ValidationError on a bad one)."""
    return PRIVACY_ADAPTER.validate_json(raw)


def expected_parts(partitions: int, with_dispatcher: bool = True) -> set[tuple[str, str]]:
    """Every (component, part) whose report confirms an erasure on ``partitions`` partitions."""
    parts = {(IDENTITY, str(p)) for p in range(partitions)}
    parts |= {(PROFILES, f"{p}->{q}") for p in range(partitions) for q in range(partitions)}
    parts.add((SINK, ""))
    if with_dispatcher:
        parts |= {(DISPATCHER, ""), (SINK_WEBHOOKS, "")}
    return parts


class ErasureStatus(BaseModel):
    request_id: str
    site_id: str
    status: Literal["pending", "done"]
    requested_at: datetime
    requested_by: str
    done_at: datetime | None = None
    removed: dict[str, int] = Field(description="Rows removed per store, over every part.")
    waiting_for: list[str] = Field(description="Reports not in yet, as component[part].")


def erasure_status(
    request: EraseRequest, reports: list[ErasureReport], expected: set[tuple[str, str]]
) -> ErasureStatus:
    """Where a request stands. A report read twice (after a crash) counts once, its largest."""
    largest: dict[tuple[str, str], ErasureReport] = {}
    for report in reports:
        at = (report.component, report.part)
        if at not in largest or sum(report.removed.values()) > sum(largest[at].removed.values()):
            largest[at] = report
    removed: dict[str, int] = {}
    for report in largest.values():
        for store, count in report.removed.items():
            removed[store] = removed.get(store, 0) + count
    missing = sorted(expected - set(largest))
    done = not missing
    return ErasureStatus(
        request_id=request.request_id,
        site_id=request.site_id,
        status="done" if done else "pending",
        requested_at=request.requested_at,
        requested_by=request.requested_by,
        done_at=max((r.at for r in largest.values()), default=None) if done else None,
        removed=removed,
        waiting_for=[f"{component}[{part}]" if part else component for component, part in missing],
    )


class AuditRecord(BaseModel):
    """One row of the ``audit_log`` table: who did what, when (written through Kafka)."""

    at: datetime
    actor: str = Field(description="admin, a site's token, or the CLI user")
    action: str = Field(description="erasure.requested, sql.query, subscription.added, …")
    site_id: str = ""
    target: str = Field(default="", description="Request id, subscription id, a subject, …")
    detail: str = ""
