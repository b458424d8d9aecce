"""The dispatcher's side of an erasure, read from the privacy topic.

Each request's subject, and the browsers' subjects the worker's identity parts report, join
the state's erased list at once (later triggers about them are dropped). Once every identity
part is in, every endpoint that received data about the customer gets a signed
``customer.erased`` delivery (through the retry topic, so it is retried like any other; its
id is fixed per request and endpoint, receivers deduplicate on it), then the state forgets
them, then the report goes to the privacy topic naming the deliveries the sink deletes from
``webhook_deliveries``. The read position is stored after each poll: a crash replays a poll,
and every step is safe to repeat.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from pydantic import ValidationError

from schemas.privacy import DISPATCHER, IDENTITY, EraseRequest, ErasureReport, parse_privacy
from schemas.webhooks import CustomerErasedData
from webhooks.consumers import positioned_reader, resume
from webhooks.deliveries import new_delivery
from webhooks.dispatcher import Dispatcher
from webhooks.triggers import Trigger

log = logging.getLogger("footfall.webhooks")


async def follow_privacy(dispatcher: Dispatcher, stop: asyncio.Event) -> None:
    topic = dispatcher.settings.topics.privacy
    consumer = positioned_reader(dispatcher)
    try:
        await resume(consumer, dispatcher, topic)
        while not stop.is_set():
            polled = await consumer.getmany(timeout_ms=200, max_records=500)
            for tp, records in polled.items():
                for record in records:
                    await on_privacy(dispatcher, record.value)
                dispatcher.state.put_profiles(
                    [], {(tp.topic, tp.partition): records[-1].offset + 1}
                )
    finally:
        await consumer.stop()


async def on_privacy(dispatcher: Dispatcher, raw: bytes | None) -> None:
    try:
        record = parse_privacy(raw or b"")
    except ValidationError as exc:
        log.warning("skipped a bad record on the privacy topic: %s", exc)
        return
    state = dispatcher.state
    if isinstance(record, EraseRequest):
        state.mark_erased([record.subject], record.request_id)
        state.erasure_part(record.request_id, "request")
        return
    if record.component != IDENTITY:
        return
    state.mark_erased(record.subjects, record.request_id)
    seen = state.erasure_part(record.request_id, f"identity {record.part}")
    if seen == dispatcher.settings.partitions + 1:  # the request and every identity part
        await erase(dispatcher, record.request_id, record.site_id)


async def erase(dispatcher: Dispatcher, request_id: str, site_id: str) -> None:
    state = dispatcher.state
    subjects = state.erased_by(request_id)
    told = state.who_received(subjects)
    now = datetime.now(UTC)
    for subscription_id, profile_ids in told.recipients.items():
        subscription = dispatcher.store.find(subscription_id)
        if subscription is None:
            continue
        trigger = Trigger(
            kind="customer.erased",
            site_id=site_id,
            profile_id=None,
            source_id=f"customer.erased:{request_id}",
            occurred_at=now,
            data=CustomerErasedData(request_id=request_id, profile_ids=profile_ids, at=now),
        )
        policy = dispatcher.settings.webhooks
        delivery = new_delivery(subscription, trigger, None, policy.max_attempts, now)
        await dispatcher.send(dispatcher.topics.webhooks_retry, delivery)
    erased = state.erase(subjects)
    removed = erased.removed | {"dispatcher customer.erased notices": len(told.recipients)}
    report = ErasureReport(
        request_id=request_id,
        site_id=site_id,
        component=DISPATCHER,
        delivery_ids=told.delivery_ids,
        removed=removed,
        at=datetime.now(UTC),
    )
    await dispatcher.producer.send_and_wait(
        dispatcher.topics.privacy, value=report.model_dump_json().encode(), key=request_id.encode()
    )
    log.info("erasure %s: %s; told %s", request_id, removed, sorted(told.recipients))
