"""The typed messages of the re-keyed topic, and the one error that marks a bad one. Pure.

Every message on ``events.identified`` is one of six kinds, keyed by site + profile id:
``event`` (fold an event in), ``tick`` (fire the timers due by ``now``), ``merge`` (hand an
anonymous profile over to its customer), ``absorb`` (fold a handed-over profile in), and two
sent to a partition, not a key: ``erase`` (remove the erased customer's profiles there) and
``expire`` (remove the listed profiles still inactive past their site's retention). A
message is parsed once, here; anything that does not parse is an :class:`InvalidMessage`, the
only way a message reaches the dead-letter topic (besides a pure step raising on its data).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from schemas.events import Event
from schemas.profile import Profile


class InvalidMessage(ValueError):
    """A message that can never be processed: it goes to the DLQ with this reason."""


class Addressed(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    site_id: str = Field(min_length=1)
    profile_id: str = Field(min_length=1)


class EventMessage(Addressed):
    kind: Literal["event"]
    event: Event
    source: tuple[int, int] | None = Field(
        default=None, description="(partition, offset) of the event on the source topic."
    )


class TickMessage(Addressed):
    kind: Literal["tick"]
    now: datetime


class MergeMessage(Addressed):
    kind: Literal["merge"]
    into: str = Field(min_length=1)
    merge_id: str = Field(min_length=1)


class AbsorbMessage(Addressed):
    kind: Literal["absorb"]
    profile: Profile
    merge_id: str = Field(min_length=1)


class EraseMessage(BaseModel):
    """Remove the profiles of this partition whose subject is listed (see erasure.py)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    kind: Literal["erase"]
    site_id: str = Field(min_length=1)
    request_id: str = Field(min_length=1)
    subjects: list[str]
    from_part: int


class ExpireMessage(BaseModel):
    """Remove the listed profiles of this partition still inactive at ``now`` (expiry.py)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    kind: Literal["expire"]
    keys: list[str]
    now: datetime


Message = Annotated[
    EventMessage | TickMessage | MergeMessage | AbsorbMessage, Field(discriminator="kind")
]
"""A message of one profile, for the profile step."""
MESSAGE_ADAPTER: TypeAdapter[Message] = TypeAdapter(Message)
Identified = Annotated[
    EventMessage | TickMessage | MergeMessage | AbsorbMessage | EraseMessage | ExpireMessage,
    Field(discriminator="kind"),
]
"""Any message of the re-keyed topic."""
IDENTIFIED_ADAPTER: TypeAdapter[Identified] = TypeAdapter(Identified)


def parse_message(raw: bytes) -> Message:
    """The typed message; raises :class:`InvalidMessage` with the reason."""
    try:
        return MESSAGE_ADAPTER.validate_json(raw)
    except ValidationError as exc:
        raise InvalidMessage(reason_of(exc)) from exc


def parse_identified(raw: bytes) -> Identified:
    """Any message of the re-keyed topic; raises :class:`InvalidMessage` with the reason."""
    try:
        return IDENTIFIED_ADAPTER.validate_json(raw)
    except ValidationError as exc:
        raise InvalidMessage(reason_of(exc)) from exc


def reason_of(exc: ValidationError) -> str:
    """A short, readable reason: the first few errors with their locations."""
    parts = []
    for error in exc.errors(include_url=False)[:3]:
        where = ".".join(str(part) for part in error["loc"]) or "message"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


def tick_message(site_id: str, profile_id: str, now: datetime) -> bytes:
    return orjson.dumps(
        {"kind": "tick", "site_id": site_id, "profile_id": profile_id, "now": now.isoformat()}
    )
