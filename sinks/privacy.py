"""The sink's side of an erasure: the privacy topic into ClickHouse, and the deletions.

The writer hands each batch's privacy records here before it inserts the batch's rows:
requests and reports become rows of ``erasure_requests`` / ``erasure_reports`` (the status
is read from them), their subjects join ``erased_subjects`` and the in-memory set that drops
the rows of erased customers still in flight. Once every identity part of a request has
reported (so every browser of the customer is known), the sink deletes their rows from every
table (:mod:`sinks.erasure`) and writes its own report; a dispatcher report names the webhook
deliveries to delete. The offsets are committed only afterwards, so a crash replays it.
Every call here is synchronous (the writer runs it in a thread).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from schemas.privacy import (
    DISPATCHER,
    IDENTITY,
    SINK,
    SINK_WEBHOOKS,
    EraseRequest,
    ErasureReport,
    ErasureStatus,
    erasure_status,
    expected_parts,
    parse_privacy,
)
from sinks.clickhouse import Store, insert_rows
from sinks.erasure import (
    DELIVERIES_OF,
    EVENT_DAYS,
    EVENT_SESSIONS,
    FUNNEL_OF_DAYS,
    FUNNEL_REBUILD,
    FUNNEL_TYPES,
    SESSIONS_OF,
    deletions,
    is_erased_row,
)

log = logging.getLogger("footfall.sink")

REQUEST_COLUMNS = ("request_id", "site_id", "subject", "requested_by", "requested_at")
REPORT_COLUMNS = (
    "request_id",
    "site_id",
    "component",
    "part",
    "removed",
    "subjects",
    "delivery_ids",
    "at",
)
SUBJECT_COLUMNS = ("site_id", "subject", "request_id", "at")


def report_row(report: ErasureReport) -> list[Any]:
    return [
        report.request_id,
        report.site_id,
        report.component,
        report.part,
        report.removed,
        report.subjects,
        report.delivery_ids,
        report.at,
    ]


@dataclass
class SinkErasure:
    client: Store
    partitions: int
    with_dispatcher: bool = True
    erased: set[str] = field(default_factory=set)
    erased_deliveries: set[str] = field(default_factory=set)

    def load(self) -> None:
        """The erased-ids list, as the store holds it (it outlives the raw topics)."""
        rows = self.client.query("SELECT subject FROM erased_subjects").result_rows
        self.erased = {str(row[0]) for row in rows}
        rows = self.client.query(
            "SELECT DISTINCT arrayJoin(delivery_ids) FROM erasure_reports"
        ).result_rows
        self.erased_deliveries = {str(row[0]) for row in rows}

    # ------------------------------------------------------------ the privacy topic

    def absorb(self, raws: list[bytes | None]) -> None:
        """Store the batch's requests and reports, learn their subjects, then do what they
        make due: deletions once a request's browsers are all known, webhook log deletions."""
        requests, reports = [], []
        for raw in raws:
            try:
                record = parse_privacy(raw or b"")
            except ValidationError as exc:
                log.warning("skipped a bad record on the privacy topic: %s", exc)
                continue
            if isinstance(record, EraseRequest):
                requests.append(record)
            else:
                reports.append(record)
        now = datetime.now(UTC)
        subjects = [(r.site_id, r.subject, r.request_id) for r in requests]
        subjects += [(r.site_id, s, r.request_id) for r in reports for s in r.subjects]
        if requests:
            insert_rows(
                self.client,
                "erasure_requests",
                REQUEST_COLUMNS,
                [
                    [r.request_id, r.site_id, r.subject, r.requested_by, r.requested_at]
                    for r in requests
                ],
            )
        if subjects:
            rows = [[site, s, request_id, now] for site, s, request_id in subjects]
            insert_rows(self.client, "erased_subjects", SUBJECT_COLUMNS, rows)
            self.erased |= {s for _, s, _ in subjects}
        if reports:
            insert_rows(
                self.client, "erasure_reports", REPORT_COLUMNS, [report_row(r) for r in reports]
            )
        due = {r.request_id for r in reports if r.component == IDENTITY}
        due |= {r.request_id for r in requests}
        for request_id in sorted(due):
            self.erase_if_known(request_id)
        for report in reports:
            if report.component == DISPATCHER:
                self.erase_deliveries(report)

    def filter(
        self, rows: dict[str, list[list[Any]]], columns: Callable[[str], Sequence[str]]
    ) -> int:
        """Drop the rows of erased customers from a batch about to be inserted; how many."""
        dropped = 0
        if not self.erased and not self.erased_deliveries:
            return 0
        for table, table_rows in rows.items():
            if table == "webhook_deliveries":
                kept = [row for row in table_rows if row[0] not in self.erased_deliveries]
            else:
                names = columns(table)
                kept = [
                    row for row in table_rows if not is_erased_row(table, names, row, self.erased)
                ]
            dropped += len(table_rows) - len(kept)
            table_rows[:] = kept
        return dropped

    # ------------------------------------------------------------ deletions

    def request(self, request_id: str) -> EraseRequest | None:
        rows = self.client.query(
            "SELECT request_id, site_id, subject, requested_by, requested_at "
            "FROM erasure_requests FINAL WHERE request_id = {r:String}",
            parameters={"r": request_id},
        ).result_rows
        if not rows:
            return None
        return EraseRequest.model_validate(dict(zip(REQUEST_COLUMNS, rows[0], strict=True)))

    def reports(self, request_id: str) -> list[ErasureReport]:
        rows = self.client.query(
            f"SELECT {', '.join(REPORT_COLUMNS)} FROM erasure_reports FINAL "
            "WHERE request_id = {r:String}",
            parameters={"r": request_id},
        ).result_rows
        return [
            ErasureReport.model_validate(dict(zip(REPORT_COLUMNS, row, strict=True)))
            for row in rows
        ]

    def status(self, request_id: str) -> ErasureStatus | None:
        request = self.request(request_id)
        if request is None:
            return None
        expected = expected_parts(self.partitions, self.with_dispatcher)
        return erasure_status(request, self.reports(request_id), expected)

    def erase_if_known(self, request_id: str) -> None:
        """Delete the customer's rows once every identity part has named its browsers."""
        request = self.request(request_id)
        if request is None:
            return
        identity = [r for r in self.reports(request_id) if r.component == IDENTITY]
        if len({r.part for r in identity}) < self.partitions:
            return
        subjects = sorted({request.subject, *(s for r in identity for s in r.subjects)})
        removed = self.delete(request.site_id, subjects)
        done = ErasureReport(
            request_id=request_id,
            site_id=request.site_id,
            component=SINK,
            removed=removed,
            at=datetime.now(UTC),
        )
        insert_rows(self.client, "erasure_reports", REPORT_COLUMNS, [report_row(done)])
        log.info("erasure %s: removed %s", request_id, removed)

    def delete(self, site: str, subjects: list[str]) -> dict[str, int]:
        bound: dict[str, Any] = {"site": site, "subjects": subjects}
        days = [row[0] for row in self.client.query(EVENT_DAYS, parameters=bound).result_rows]
        sessions = [
            str(row[0]) for row in self.client.query(EVENT_SESSIONS, parameters=bound).result_rows
        ]
        removed = {}
        for deletion in deletions():
            removed[deletion.store] = self.delete_where(deletion.table, deletion.where, bound)
        if sessions:
            more = self.delete_where("sessions", SESSIONS_OF, {"site": site, "sessions": sessions})
            removed["clickhouse sessions"] += more
        if days:
            funnel = {"site": site, "days": days}
            removed["clickhouse daily_funnel (rebuilt)"] = self.delete_where(
                "daily_funnel", FUNNEL_OF_DAYS, funnel
            )
            self.client.command(FUNNEL_REBUILD, parameters=funnel | {"types": list(FUNNEL_TYPES)})
        return removed

    def delete_where(self, table: str, where: str, bound: dict[str, Any]) -> int:
        """Rows of ``table`` matching ``where``, deleted by a mutation that rewrites the
        parts holding them (not a lightweight mask); waits until it is done."""
        count = int(
            self.client.query(
                f"SELECT count() FROM {table} WHERE {where}", parameters=bound
            ).result_rows[0][0]
        )
        if count:
            self.client.command(
                f"ALTER TABLE {table} DELETE WHERE {where} SETTINGS mutations_sync = 2",
                parameters=bound,
            )
        return count

    def erase_deliveries(self, report: ErasureReport) -> None:
        """The webhook log rows of the deliveries the dispatcher names."""
        ids = report.delivery_ids
        self.erased_deliveries |= set(ids)
        count = self.delete_where("webhook_deliveries", DELIVERIES_OF, {"ids": ids}) if ids else 0
        done = ErasureReport(
            request_id=report.request_id,
            site_id=report.site_id,
            component=SINK_WEBHOOKS,
            removed={"clickhouse webhook_deliveries": count},
            at=datetime.now(UTC),
        )
        insert_rows(self.client, "erasure_reports", REPORT_COLUMNS, [report_row(done)])
