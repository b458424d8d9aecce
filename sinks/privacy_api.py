"""The sink's privacy admin API: ask for an erasure, read its status; and the audit trail.

An erasure request is a record on the privacy topic (the worker, the sink and the dispatcher
consume it); its status is read from the reports the stores sent back. Every admin action
here, and every SQL query the endpoint serves, is a record on the audit topic, which the sink
writes to ``audit_log``. Only the admin token may erase or read a status.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer
from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field

from base.kafka import start_producer
from schemas.privacy import AuditRecord, EraseRequest, ErasureStatus, subject
from sinks.privacy import SinkErasure
from sinks.query_api import credentials
from sinks.settings import SinkSettings

Audit = Callable[[AuditRecord], Awaitable[None]]


@dataclass
class PrivacyProducer:
    """One producer for the privacy and audit topics, started on first use (the sink serves
    SQL while Kafka is away; only these writes need it)."""

    settings: SinkSettings
    producer: AIOKafkaProducer | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def send(self, topic: str, key: str, value: bytes) -> None:
        async with self.lock:
            if self.producer is None:
                self.producer = await start_producer(self.settings)
        await self.producer.send_and_wait(topic, value=value, key=key.encode())

    async def audit(self, record: AuditRecord) -> None:
        await self.send(
            self.settings.topics.audit, record.action, record.model_dump_json().encode()
        )

    async def close(self) -> None:
        if self.producer is not None:
            await self.producer.stop()


class ErasureAsk(BaseModel):
    site_id: str = Field(min_length=1, max_length=128)
    customer_id: str = Field(min_length=1, max_length=512)
    requested_by: str = Field(
        default="admin", max_length=256, description="Who asked, for the audit."
    )


def privacy_router(
    settings: SinkSettings,
    producer: PrivacyProducer,
    erasure: Callable[[], SinkErasure | None],
) -> APIRouter:
    router = APIRouter(prefix="/privacy")

    def admin(request: Request) -> None:
        _, key = credentials(request)
        if key is None or not secrets.compare_digest(key, settings.admin_token):
            raise HTTPException(401, "the admin token is required (Authorization: Bearer …)")

    def opened() -> SinkErasure:
        found = erasure()
        if found is None:
            raise HTTPException(
                503, "the store is not open yet; retry shortly", {"Retry-After": "5"}
            )
        return found

    @router.post("/erasures", status_code=202, dependencies=[Depends(admin)])
    async def erase(body: ErasureAsk) -> dict[str, str]:
        """Erase a customer and every browser linked to them, everywhere; returns the
        request id whose status says when every store confirmed."""
        now = datetime.now(UTC)
        request = EraseRequest(
            request_id=f"erase_{uuid.uuid4().hex}",
            site_id=body.site_id,
            subject=subject(body.site_id, body.customer_id),
            requested_by=body.requested_by,
            requested_at=now,
        )
        await producer.send(
            settings.topics.privacy, request.request_id, request.model_dump_json().encode()
        )
        await producer.audit(
            AuditRecord(
                at=now,
                actor=body.requested_by,
                action="erasure.requested",
                site_id=body.site_id,
                target=request.request_id,
                detail=f"subject {request.subject}",
            )
        )
        return {"request_id": request.request_id, "status": "pending"}

    @router.get("/erasures/{request_id}", dependencies=[Depends(admin)])
    async def status(request_id: str) -> ErasureStatus:
        found = await asyncio.to_thread(opened().status, request_id)
        if found is None:
            raise HTTPException(
                404, f"no erasure request {request_id!r} (yet: it may be in flight)"
            )
        return found

    return router
