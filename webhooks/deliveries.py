"""Building deliveries and the records that follow an attempt. Pure functions."""

from __future__ import annotations

import uuid
from datetime import datetime

from schemas.webhooks import (
    AttemptRecord,
    Delivery,
    Outcome,
    ProfileSummary,
    Subscription,
    WebhookPayload,
)
from webhooks.policy import AttemptResult
from webhooks.triggers import Trigger, delivery_id


def new_delivery(
    subscription: Subscription,
    trigger: Trigger,
    profile: ProfileSummary | None,
    max_attempts: int,
    now: datetime,
) -> Delivery:
    ident = delivery_id(subscription.id, trigger.source_id)
    payload = WebhookPayload(
        delivery_id=ident,
        type=trigger.kind,
        timestamp=trigger.occurred_at,
        site_id=trigger.site_id,
        data=trigger.data,
        profile=profile,
    )
    return Delivery(
        delivery_id=ident,
        subscription_id=subscription.id,
        site_id=trigger.site_id,
        kind=trigger.kind,
        profile_id=trigger.profile_id,
        body=payload.model_dump_json(),
        max_attempt=max_attempts,
        next_attempt_at=now,
        created_at=now,
    )


def attempt_record(
    delivery: Delivery, url: str, result: AttemptResult, outcome: Outcome, at: datetime
) -> AttemptRecord:
    return AttemptRecord(
        delivery_id=delivery.delivery_id,
        subscription_id=delivery.subscription_id,
        site_id=delivery.site_id,
        event_kind=delivery.kind,
        url=url,
        attempt=delivery.attempt,
        status=result.status,
        outcome=outcome,
        latency_ms=result.latency_ms,
        error=result.error,
        at=at,
    )


def next_try(delivery: Delivery, result: AttemptResult, when: datetime) -> Delivery:
    return delivery.model_copy(
        update={
            "attempt": delivery.attempt + 1,
            "next_attempt_at": when,
            "last_status": result.status,
            "last_error": result.error,
        }
    )


def parked(delivery: Delivery, status: int | None, error: str, at: datetime) -> Delivery:
    return delivery.model_copy(update={"last_status": status, "last_error": error, "dead_at": at})


def replayed(delivery: Delivery, max_attempts: int, now: datetime) -> Delivery:
    """A fresh series of attempts for ``delivery``, sent even if it was delivered before."""
    return delivery.model_copy(
        update={
            "attempt": 1,
            "max_attempt": max_attempts,
            "next_attempt_at": now,
            "dead_at": None,
            "replay": uuid.uuid4().hex[:12],
        }
    )


def handled_key(delivery: Delivery) -> str:
    return f"{delivery.delivery_id}:{delivery.replay or ''}:{delivery.attempt}"
