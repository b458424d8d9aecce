"""When to publish a profile snapshot: throttled per profile, always on orders. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Throttle:
    """Per-profile publication times of one worker, and the snapshots held back."""

    interval_s: float
    last_sent: dict[str, float] = field(default_factory=dict)
    held: dict[str, float] = field(default_factory=dict)
    """key → when it was first held back."""

    def publish_now(self, key: str, now: float, *, urgent: bool) -> bool:
        """True when the snapshot goes out now; otherwise it is held for :meth:`due`."""
        last = self.last_sent.get(key)
        if urgent or last is None or now - last >= self.interval_s:
            self.sent(key, now)
            return True
        self.held.setdefault(key, now)
        return False

    def sent(self, key: str, now: float) -> None:
        self.last_sent[key] = now
        self.held.pop(key, None)
        if len(self.last_sent) > 100_000:
            # Forget the oldest publication times; a forgotten key just publishes at once.
            cutoff = sorted(self.last_sent.values())[len(self.last_sent) // 2]
            self.last_sent = {k: t for k, t in self.last_sent.items() if t > cutoff}

    def due(self, now: float) -> list[str]:
        """Keys held back whose interval has passed."""
        return [
            key
            for key in self.held
            if now - self.last_sent.get(key, float("-inf")) >= self.interval_s
        ]

    def forget(self, keys: set[str]) -> None:
        """Drop held keys (their partitions moved to another worker)."""
        for key in keys:
            self.held.pop(key, None)
