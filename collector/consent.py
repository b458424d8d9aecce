"""What the collector keeps of an event without analytics consent. Pure.

The rule (docs/privacy.md, "Consent by purpose"): an event whose analytics consent is denied
(or not said, on a site with ``analytics_consent = "required"``) keeps nothing that identifies
a person. Its anonymous and session ids become a salted hash that changes every UTC day (so
it can be counted for that day and never linked to the next one), its customer id, the
unknown top-level fields and every context field but the page path and title, the campaign,
the coupon, the country and the device type are dropped, and marketing counts as denied. An
``identify`` (an id and traits, nothing else) is not stored at all.

One exception: the consent change itself (a ``custom`` event named ``consent``) keeps the
anonymous and customer ids, so that a withdrawal reaches the person's profile, with its
consent and nothing else: the record a shop must keep to show what it was told.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import date
from typing import Literal

from schemas.consent import CONSENT_EVENT, Consent
from schemas.events import Context, Custom, CustomProperties, Device, Envelope, Event, Identify

AnalyticsRule = Literal["assumed", "required"]
"""``assumed``: an event that says nothing about analytics is kept as it is (old clients);
``required``: only an explicit grant keeps it, and an unsaid purpose counts as denied."""

HASH_PREFIX = "h-"


def effective(consent: Consent | None, rule: AnalyticsRule) -> Consent | None:
    """The consent an event is stored with: under ``required`` an unsaid purpose is denied."""
    if rule == "assumed":
        return consent
    consent = consent or Consent()
    return Consent(
        analytics=bool(consent.analytics),
        marketing=bool(consent.marketing) and bool(consent.analytics),
    )


def daily_hash(key: str, day: date, id_: str) -> str:
    """An id no one without the site's key can link to the id, or to the same id another day."""
    digest = hmac.new(key.encode(), f"{day.isoformat()}:{id_}".encode(), hashlib.sha256)
    return HASH_PREFIX + digest.hexdigest()[:32]


def is_consent_change(event: Envelope) -> bool:
    return isinstance(event, Custom) and event.properties.name == CONSENT_EVENT


def kept(event: Event, rule: AnalyticsRule, key: str, day: date) -> Event | None:
    """The event as stored under the site's rule: as it came, anonymized, or not at all."""
    consent = effective(event.context.consent, rule)
    if consent is None or consent.analytics is not False:
        if consent == event.context.consent:
            return event
        return event.model_copy(
            update={"context": event.context.model_copy(update={"consent": consent})}
        )
    denied = Consent(analytics=False, marketing=False)
    if is_consent_change(event):
        return event.model_copy(
            update={
                "context": Context(consent=consent),
                "properties": CustomProperties(name=CONSENT_EVENT),
                "session_id": None,
                "extra": {},
            }
        )
    if isinstance(event, Identify):
        return None
    context = event.context
    device = context.device
    return event.model_copy(
        update={
            "anonymous_id": daily_hash(key, day, event.anonymous_id),
            "customer_id": None,
            "session_id": daily_hash(key, day, event.session_id) if event.session_id else None,
            "extra": {},
            "context": Context(
                path=context.path,
                title=context.title,
                utm=context.utm,
                coupon=context.coupon,
                country=context.country,
                device=Device(type=device.type, is_bot=device.is_bot) if device else None,
                consent=denied,
            ),
        }
    )
