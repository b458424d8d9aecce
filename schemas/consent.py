"""Consent by purpose: what an event says, and the latest of it as a profile keeps it. Pure.

An event carries ``context.consent``: ``analytics`` (may the shop keep who did what) and
``marketing`` (may marketing tools be told about this person), each granted (true), denied
(false) or not said (null). Old clients send a single ``true``/``false``, which stands for
both; Google Consent Mode signals are read too: ``analytics_storage`` for analytics and
``ad_storage`` / ``ad_user_data`` for marketing (denied when any of them is denied).

A profile remembers, per purpose, the signal of the latest event in event time
(``occurred_at``, then event id), so the same events give the same consent in any order.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

CONSENT_EVENT = "consent"
"""The ``custom`` event name a consent change is sent as (it keeps its ids, see docs)."""

MODE_GRANTED = {"granted": True, "denied": False}


def mode_signal(data: dict[str, Any], *keys: str) -> bool | None:
    """One purpose from Consent Mode keys: denied if any is denied, granted if all given are."""
    given = [MODE_GRANTED.get(str(data[k]).lower()) for k in keys if k in data]
    known = [g for g in given if g is not None]
    if not known:
        return None
    return all(known)


class Consent(BaseModel):
    """The consent signals of one event (other Consent Mode keys are ignored)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    analytics: bool | None = None
    marketing: bool | None = None

    @model_validator(mode="before")
    @classmethod
    def from_signals(cls, data: Any) -> Any:
        if isinstance(data, bool):
            return {"analytics": data, "marketing": data}
        if isinstance(data, dict) and not {"analytics", "marketing"} & set(data):
            return {
                "analytics": mode_signal(data, "analytics_storage"),
                "marketing": mode_signal(data, "ad_storage", "ad_user_data"),
            }
        return data


class ConsentMark(BaseModel):
    """One purpose's latest signal and the event that gave it."""

    model_config = ConfigDict(frozen=True)

    granted: bool
    at: datetime
    event_id: str


class ConsentState(BaseModel):
    """The latest signal per purpose of a profile (none: never said)."""

    model_config = ConfigDict(frozen=True)

    analytics: ConsentMark | None = None
    marketing: ConsentMark | None = None


def later(a: ConsentMark | None, b: ConsentMark | None) -> ConsentMark | None:
    """The later of two marks in event time (event id breaks a tie, so order never matters)."""
    if a is None or b is None:
        return a or b
    return max(a, b, key=lambda m: (m.at, m.event_id))


def with_signal(
    state: ConsentState, consent: Consent | None, at: datetime, event_id: str
) -> ConsentState:
    """``state`` after one event's signals."""
    if consent is None:
        return state
    marks = {
        purpose: ConsentMark(granted=granted, at=at, event_id=event_id)
        for purpose, granted in (("analytics", consent.analytics), ("marketing", consent.marketing))
        if granted is not None
    }
    return merged(state, ConsentState(**marks))


def merged(a: ConsentState, b: ConsentState) -> ConsentState:
    """Two profiles' consent as one (a browser's joins its customer's)."""
    analytics, marketing = later(a.analytics, b.analytics), later(a.marketing, b.marketing)
    if analytics == a.analytics and marketing == a.marketing:
        return a
    return ConsentState(analytics=analytics, marketing=marketing)


def marketing_withdrawn(snapshot: dict[str, Any] | None) -> bool:
    """Whether a profile snapshot (as JSON) says its latest marketing signal is a denial."""
    consent = (snapshot or {}).get("consent") or {}
    mark = consent.get("marketing") if isinstance(consent, dict) else None
    return isinstance(mark, dict) and mark.get("granted") is False


def describe(state: ConsentState) -> str:
    """The audit log's detail: ``analytics=granted marketing=denied``."""
    words = []
    for purpose in ("analytics", "marketing"):
        mark: ConsentMark | None = getattr(state, purpose)
        said = "unknown" if mark is None else "granted" if mark.granted else "denied"
        words.append(f"{purpose}={said}")
    return " ".join(words)
