"""Attempting deliveries: per-endpoint limits, signing, and what follows each attempt.

After an attempt, its record goes to the attempts topic and the delivery either is done,
goes to the retry topic with its next-attempt time, or is parked in the DLQ; only once
those writes are acknowledged is the input settled, so a crash repeats a delivery (same
delivery id) and never loses one.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import signal
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from aiokafka import AIOKafkaProducer
from pydantic import BaseModel

from base.config import Topics
from schemas.privacy import AuditRecord
from schemas.webhooks import Delivery, Outcome, Subscription, TestData, WebhookDisabledData
from webhooks.deliveries import (
    attempt_record,
    handled_key,
    new_delivery,
    next_try,
    parked,
)
from webhooks.intake import Intake
from webhooks.metrics import DeliveryMetrics
from webhooks.policy import AttemptResult, decide, streak_disables
from webhooks.sender import Sender
from webhooks.settings import WebhookSettings
from webhooks.signing import signed_headers
from webhooks.state import DispatcherState
from webhooks.subscriptions import SubscriptionStore
from webhooks.triggers import Trigger

log = logging.getLogger("footfall.webhooks")

OUTCOMES: dict[str, Outcome] = {"delivered": "delivered", "retry": "failed", "dead": "dead"}


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Endpoint:
    """One subscription's slots; deliveries beyond the slots wait here."""

    slots: asyncio.Semaphore
    waiting: int = 0
    held: int = 0


@dataclass
class Dispatcher:
    settings: WebhookSettings
    store: SubscriptionStore
    state: DispatcherState
    sender: Sender
    producer: AIOKafkaProducer
    metrics: DeliveryMetrics
    rng: random.Random = field(default_factory=random.Random)
    endpoints: dict[str, Endpoint] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    @property
    def intake(self) -> Intake:
        settings = self.settings
        return Intake(settings.topics, self.state, settings.webhooks, settings.personal_key)

    def endpoint(self, subscription_id: str) -> Endpoint:
        if subscription_id not in self.endpoints:
            slots = asyncio.Semaphore(self.settings.webhooks.endpoint_concurrency)
            self.endpoints[subscription_id] = Endpoint(slots)
        return self.endpoints[subscription_id]

    def hold(self, delivery: Delivery, settle: Callable[[], None]) -> asyncio.Task[None]:
        """Run ``delivery`` when it is due; ``settle`` is called once its outcome is stored."""
        endpoint = self.endpoint(delivery.subscription_id)
        endpoint.held += 1
        self.metrics.backlog.labels(delivery.subscription_id).set(endpoint.held)

        async def run() -> None:
            try:
                delay = (delivery.next_attempt_at - utcnow()).total_seconds()
                if delay > 0:
                    await asyncio.sleep(delay)
                await self.deliver(delivery)
                settle()
            finally:
                endpoint.held -= 1
                self.metrics.backlog.labels(delivery.subscription_id).set(endpoint.held)

        task = asyncio.create_task(run(), name=f"delivery {delivery.delivery_id}")
        task.add_done_callback(crash_on_failure)
        return task

    async def deliver(self, delivery: Delivery) -> None:
        state = self.state
        if state.was_handled(handled_key(delivery)):
            return
        if delivery.replay is None and state.was_delivered(delivery.delivery_id):
            return
        if self.intake.withdrawn(delivery.site_id, delivery.profile_id):
            # Consent was withdrawn after the delivery was made: it is never sent.
            state.mark_handled(handled_key(delivery), utcnow())
            self.counts["withheld"] += 1
            return
        subscription = self.store.find(delivery.subscription_id)
        if subscription is None or not subscription.enabled:
            why = "removed" if subscription is None else "disabled"
            await self.send(self.topics.webhooks_dlq, parked(delivery, None, why, utcnow()))
            state.mark_handled(handled_key(delivery), utcnow())
            self.counts["parked"] += 1
            return
        endpoint = self.endpoint(subscription.id)
        policy = self.settings.webhooks
        endpoint.waiting += 1
        try:
            async with asyncio.timeout(policy.endpoint_wait_s):
                await endpoint.slots.acquire()
        except TimeoutError:
            # A slow endpoint: hand the delivery to the retry topic, same attempt number,
            # and free the input for the other endpoints.
            later = delivery.model_copy(
                update={"next_attempt_at": utcnow() + timedelta(seconds=policy.endpoint_wait_s)}
            )
            await self.send(self.topics.webhooks_retry, later)
            self.counts["deferred"] += 1
            return
        finally:
            endpoint.waiting -= 1
        try:
            result = await self.attempt(subscription, delivery)
        finally:
            endpoint.slots.release()
        await self.follow_up(subscription, delivery, result)

    async def attempt(self, subscription: Subscription, delivery: Delivery) -> AttemptResult:
        headers = signed_headers(subscription.secret, delivery.delivery_id, delivery.body, utcnow())
        return await self.sender.attempt(subscription.url, headers, delivery.body)

    async def follow_up(
        self, subscription: Subscription, delivery: Delivery, result: AttemptResult
    ) -> None:
        now = utcnow()
        decision = decide(delivery, result, self.settings.webhooks, now, self.rng)
        outcome: Outcome = OUTCOMES[decision.action]
        writes = [
            self.send(
                self.topics.webhooks_attempts,
                attempt_record(delivery, subscription.url, result, outcome, now),
            )
        ]
        if decision.action == "retry":
            assert decision.next_attempt_at is not None
            writes.append(
                self.send(
                    self.topics.webhooks_retry, next_try(delivery, result, decision.next_attempt_at)
                )
            )
        elif decision.action == "dead":
            writes.append(
                self.send(
                    self.topics.webhooks_dlq, parked(delivery, result.status, result.error, now)
                )
            )
        await asyncio.gather(*writes)
        self.metrics.observe(subscription.id, outcome, result.latency_ms)
        self.counts[outcome] += 1
        if decision.action == "delivered":
            self.state.mark_delivered(delivery.delivery_id, now)
            self.state.success(subscription.id)
        self.state.mark_handled(handled_key(delivery), now)
        if decision.action != "delivered":
            failures, since = self.state.failure(subscription.id, now)
            reason = decision.disable or streak_disables(
                failures, since, now, self.settings.webhooks
            )
            if reason and subscription.enabled:
                await self.disable(subscription, reason)

    async def disable(self, subscription: Subscription, reason: str) -> None:
        """Disable an endpoint and tell the site's ``webhook.disabled`` subscribers."""
        log.warning("disabling webhook %s (%s): %s", subscription.id, subscription.url, reason)
        self.store.set_enabled(subscription.id, False, reason)
        self.state.success(subscription.id)
        now = utcnow()
        trigger = Trigger(
            kind="webhook.disabled",
            site_id=subscription.site_id,
            profile_id=None,
            source_id=f"webhook.disabled:{subscription.id}:{now.isoformat()}",
            occurred_at=now,
            data=WebhookDisabledData(
                subscription_id=subscription.id, url=subscription.url, reason=reason, at=now
            ),
        )
        for delivery in self.intake.deliveries([trigger], self.store.all(), now):
            await self.send(self.topics.webhooks_retry, delivery)

    async def test(self, subscription: Subscription) -> AttemptResult:
        """Send a ``webhook.test`` delivery now, once, and log the attempt."""
        now = utcnow()
        trigger = Trigger(
            kind="webhook.test",
            site_id=subscription.site_id,
            profile_id=None,
            source_id=f"webhook.test:{subscription.id}:{now.isoformat()}",
            occurred_at=now,
            data=TestData(at=now),
        )
        delivery = new_delivery(subscription, trigger, None, 1, now)
        async with self.endpoint(subscription.id).slots:
            result = await self.attempt(subscription, delivery)
        outcome: Outcome = "delivered" if result.ok else "dead"
        record = attempt_record(delivery, subscription.url, result, outcome, utcnow())
        await self.send(self.topics.webhooks_attempts, record)
        self.metrics.observe(subscription.id, outcome, result.latency_ms)
        return result

    async def audit(self, action: str, subscription: Subscription, actor: str = "admin") -> None:
        """An admin's change of a subscription, as a row of the audit trail."""
        record = AuditRecord(
            at=utcnow(),
            actor=actor,
            action=action,
            site_id=subscription.site_id,
            target=subscription.id,
            detail=subscription.url,
        )
        await self.send(self.topics.audit, record)

    @property
    def topics(self) -> Topics:
        return self.settings.topics

    async def send(self, topic: str, record: BaseModel) -> None:
        key = getattr(record, "delivery_id", None)
        await self.producer.send_and_wait(
            topic,
            value=record.model_dump_json().encode(),
            key=key.encode() if isinstance(key, str) else None,
        )


def crash_on_failure(task: asyncio.Task[None]) -> None:
    """A delivery that could not record its outcome (Kafka gone) takes the process down."""
    if task.cancelled() or task.exception() is None:
        return
    log.critical("delivery failed to record its outcome", exc_info=task.exception())
    os.kill(os.getpid(), signal.SIGTERM)
