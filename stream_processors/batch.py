"""The profiles a micro-batch changed, folded in memory until the batch is written. Pure.

Faust's cost per table write (a JSON dump, a store write and a changelog record) dwarfs the
pure step, and a busy profile gets several messages per batch. The profile agent therefore
steps each message on the profile's latest state in the batch and writes every touched
profile once, when the batch is done and before any of its messages is acknowledged: a
``kill -9`` in between replays the whole batch (the offsets are not committed), and the
messages whose state did reach the table are replays (their outbox records sent again).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

from schemas.profile import Profile
from stream_processors.profile_step import Applied

Origin = TypeVar("Origin")


@dataclass
class Touched(Generic[Origin]):
    """A profile's state after the batch's messages so far, whether its snapshot is urgent
    (an order, a consent change, a merge), and the message that changed it last (the
    worker writes the table in that message's partition)."""

    profile: Profile
    urgent: bool
    origin: Origin


@dataclass
class PendingProfiles(Generic[Origin]):
    """Table key → the state to write at the end of the batch, in the order first touched."""

    touched: dict[str, Touched[Origin]] = field(default_factory=dict)

    def latest(self, key: str) -> Profile | None:
        """The profile's state within the batch; None when the batch did not change it."""
        found = self.touched.get(key)
        return None if found is None else found.profile

    def fold(self, key: str, before: Profile, outcome: Applied, origin: Origin) -> bool:
        """Keep ``outcome`` as the profile's latest state when it changed ``before``;
        False when it did not (nothing to write for it)."""
        if not outcome.changed(before):
            return False
        earlier = self.touched.get(key)
        urgent = outcome.urgent or (earlier is not None and earlier.urgent)
        self.touched[key] = Touched(outcome.after, urgent, origin)
        return True

    def drain(self) -> list[tuple[str, Touched[Origin]]]:
        """Everything to write, emptied."""
        out = list(self.touched.items())
        self.touched.clear()
        return out
