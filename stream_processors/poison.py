"""Which failures are the message's fault, and when there are too many of them. Pure.

A message whose data makes a pure step raise a :class:`ValueError` (pydantic's
``ValidationError`` and :class:`~stream_processors.messages.InvalidMessage` among them), an
:class:`ArithmeticError` (an overflow on an absurd date) or a :class:`RecursionError` goes to
the dead-letter topic with its reason, and its partition moves on. Any other exception
(``KeyError``, ``TypeError``, ``AttributeError``, …) is a bug in the worker's own code: the
worker stops before anything commits past the message, and reads it again once fixed.

Many rejections in a row, or a high share of them, mean a bad deploy rather than bad data:
:class:`DlqLimit` (after arroyo's) stops the worker then, before it fills the DLQ.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

import orjson

POISON: tuple[type[Exception], ...] = (ValueError, ArithmeticError, RecursionError)


def is_poison(exc: BaseException) -> bool:
    return isinstance(exc, POISON)


class DlqLimitExceeded(RuntimeError):
    """Too many messages rejected: the worker stops instead of filling the DLQ."""


@dataclass
class DlqLimit:
    max_consecutive: int = 100
    """Rejections in a row that stop the worker."""
    max_ratio: float = 0.05
    """Share of rejections among the last ``window`` messages that stops the worker."""
    window: int = 1000
    consecutive: int = 0
    recent: deque[bool] = field(default_factory=deque)
    rejected_recently: int = 0
    """How many of ``recent`` were rejected (kept as they come and go: counted once each)."""

    def record(self, rejected: bool) -> None:
        """Count one message; raises :class:`DlqLimitExceeded` when a limit is passed."""
        self.consecutive = self.consecutive + 1 if rejected else 0
        self.recent.append(rejected)
        self.rejected_recently += rejected
        if len(self.recent) > self.window:
            self.rejected_recently -= self.recent.popleft()
        if self.consecutive >= self.max_consecutive:
            raise DlqLimitExceeded(f"{self.consecutive} messages in a row were rejected")
        share = self.rejected_recently / len(self.recent)
        if len(self.recent) >= self.window and share > self.max_ratio:
            raise DlqLimitExceeded(
                f"{share:.0%} of the last {len(self.recent)} messages were rejected"
            )


def dead_letter(raw: bytes, reason: str, stage: str) -> bytes:
    """The DLQ record of a rejected message: the reason, the stage, the payload as text, and
    the site and event id when the payload shows them (a rejected message may not parse)."""
    record: dict[str, Any] = {"reason": reason, "stage": stage}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        body = None
    if isinstance(body, dict):
        inner = body.get("event")
        event: dict[str, Any] = inner if isinstance(inner, dict) else body
        for name, value in (("site_id", body.get("site_id")), ("event_id", event.get("event_id"))):
            if isinstance(value, str) and len(value) <= 128:
                record[name] = value
    record["payload"] = raw.decode(errors="replace")
    return orjson.dumps(record)
