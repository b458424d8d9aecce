"""Routed messages bundled per partition of the re-keyed topic. Pure.

The identity agent routes each event to a profile key; instead of one record per event on
``events.identified`` it hands over one record per partition holding the messages routed
there since the last hand-over, in routing order. The profile agent unpacks a bundle and
handles its messages one by one, exactly as if they had come one record each: every key of a
bundle belongs to the partition it was sent to (the producer's own key hash picks it), and a
key's messages keep their order because they always go to the same partition.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
from aiokafka.partitioner import murmur2

BUNDLE = "bundle"


def partition_for(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner gives ``key`` (murmur2, as the Java client)."""
    return int(murmur2(key) & 0x7FFFFFFF) % partitions


@dataclass
class Bundler:
    """Messages waiting to be handed over, per partition, in routing order."""

    partitions: int
    pending: dict[int, list[bytes]] = field(default_factory=dict)
    count: int = 0
    _partition_of: dict[bytes, int] = field(default_factory=dict)

    def add(self, key: bytes, message: bytes) -> None:
        partition = self._partition_of.get(key)
        if partition is None:
            partition = partition_for(key, self.partitions)
            if len(self._partition_of) > 100_000:
                self._partition_of.clear()
            self._partition_of[key] = partition
        self.pending.setdefault(partition, []).append(message)
        self.count += 1

    def take(self) -> list[tuple[int, bytes]]:
        """The bundles to send (partition, record value); the bundler is empty after."""
        bundles = [(partition, bundle(messages)) for partition, messages in self.pending.items()]
        self.pending = {}
        self.count = 0
        return bundles


def bundle(messages: list[bytes]) -> bytes:
    return orjson.dumps({"kind": BUNDLE, "messages": [orjson.Fragment(m) for m in messages]})


def unpacked(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The messages a record carries: a bundle's, or the record's own message."""
    if message.get("kind") == BUNDLE:
        inner: list[dict[str, Any]] = message["messages"]
        return inner
    return [message]
