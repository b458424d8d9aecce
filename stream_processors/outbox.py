"""The records a message led to, kept in the profile until they are surely delivered. Pure.

The worker writes a profile's new state (to its table's changelog) and the records the
message led to (journey transitions, segment changes, a hand-over to another profile) in one
go, but the producer delivers them on different partitions in no guaranteed order. The
source offset is committed only once everything was delivered, so a crash replays the
message; by then the state may say "done" while a record never arrived. The outbox keeps each
message's records under its id; a replayed message sends them again. Their consumers drop
duplicates (ReplacingMergeTree rows, webhook delivery ids, merge ids).
"""

from __future__ import annotations

from schemas.profile import Outgoing
from stream_processors.messages import EventMessage, Message, TickMessage
from stream_processors.profile import short_id

OUTBOX_KEPT = 8
"""Messages remembered per profile."""
OUTBOX_WINDOW_S = 120.0
"""How long records are kept after their message: a hundred times the offset commit interval.
(Only a later message of the same profile drops them, and a replayed message comes before
any later one of its profile.)"""

Record = tuple[str, str, str]
"""(topic role, key, JSON value)."""


def message_id(message: Message) -> str:
    """The outbox id of a message on the re-keyed topic, the same each time it is read."""
    if isinstance(message, EventMessage):
        return f"event:{short_id(str(message.event.event_id))}"
    if isinstance(message, TickMessage):
        return f"tick:{message.now.isoformat()}"
    return f"{message.kind}:{short_id(message.merge_id)}"


def kept(outbox: list[Outgoing], now: float) -> list[Outgoing]:
    """The entries still within the window; the same list when nothing expired."""
    if not outbox or outbox[0].at >= now - OUTBOX_WINDOW_S:
        return outbox
    return [entry for entry in outbox if entry.at >= now - OUTBOX_WINDOW_S]


def recorded(
    outbox: list[Outgoing], ident: str, records: list[Record], now: float
) -> list[Outgoing]:
    """``outbox`` with the records of message ``ident`` added (when there are any)."""
    current = kept(outbox, now)
    if not records:
        return current
    entry = Outgoing(id=ident, at=now, records=records)
    return [*(e for e in current if e.id != ident), entry][-OUTBOX_KEPT:]


def to_resend(outbox: list[Outgoing], ident: str) -> list[Record] | None:
    """The records message ``ident`` led to; None when it is not (or no longer) kept."""
    for entry in outbox:
        if entry.id == ident:
            return list(entry.records)
    return None
