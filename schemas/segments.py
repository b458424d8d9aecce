"""Segment membership changes, published on the ``segments`` topic."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel


class SegmentChange(BaseModel):
    """A profile entered or left a segment."""

    site_id: str
    profile_id: str
    segment: str
    change: Literal["entered", "exited"]
    cause: str
    event_id: str | None = None
    at: datetime
