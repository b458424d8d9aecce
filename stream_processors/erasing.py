"""The worker's side of an erasure: its tables, its messages, its reports (the I/O).

The decisions are pure, in :mod:`stream_processors.erasure`; this adapter reads the tables,
writes their tombstones (inside the agent reading the partition the keys live in, so Faust
writes each tombstone to the key's own changelog partition) and sends what follows. Two
erased-ids tables, one per agent, hold subjects only (SHA-256 of site and id, never the id)
and outlive the raw topics: every later message of an erased customer or browser is dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import rocksdict
from faust.serializers import codecs
from faust.types import TableT

from base.config import Topics
from schemas.privacy import IDENTITY, PROFILES, EraseRequest, parse_privacy, subject
from stream_processors.due_index import DueIndex
from stream_processors.erasure import (
    browser_subjects,
    erase_command,
    erase_message,
    linked_browsers,
    profile_keys,
    report,
)
from stream_processors.identity import BrowserIdentity
from stream_processors.live import LiveCache
from stream_processors.messages import EraseMessage, InvalidMessage
from stream_processors.snapshots import Throttle

log = logging.getLogger("footfall.worker")

Emit = Callable[[str, bytes, bytes | None, int | None], Awaitable[None]]
"""Send (topic, key, value or None for a tombstone, partition or None for the key's)."""


@dataclass
class WorkerErasure:
    topics: Topics
    partitions: int
    identity: TableT[Any, Any]
    profiles: TableT[Any, Any]
    erased_browsers: TableT[Any, Any]
    erased_profiles: TableT[Any, Any]
    live_identities: LiveCache[BrowserIdentity]
    live_profiles: LiveCache[Any]
    throttle: Throttle
    dues: DueIndex
    emit: Emit
    flush: Callable[[], Awaitable[None]]
    """Wait until every record sent so far is acknowledged."""

    async def remove(self, table: TableT[Any, Any], keys: list[str], partition: int) -> None:
        """Remove ``keys`` from ``table``, the tombstones in its changelog acknowledged first.

        Faust writes a table's store at once and its changelog later; after a ``kill -9`` in
        between the command is read again, finds the keys gone from the store, and would never
        send the tombstones, so the changelog would keep the last values.
        """
        topic = table.changelog_topic.get_topic_name()
        for key in keys:
            await self.emit(topic, codecs.dumps("json", key), None, partition)
        await self.flush()
        for key in keys:
            del table[key]
        if keys:
            compact(table, partition)

    async def drop_profiles(self, keys: list[str], partition: int) -> None:
        """Remove profiles of ``partition`` from everything the worker keeps them in: a
        tombstone on the compacted ``profiles`` topic (the webhook dispatcher forgets them
        too), the table and its changelog, the live cache, the throttle and the timers."""
        for key in keys:
            await self.emit(self.topics.profiles, key.encode(), None, None)
        await self.remove(self.profiles, keys, partition)
        for key in keys:
            self.live_profiles.entries.pop(key, None)
            self.throttle.held.pop(key, None)
            self.dues.drop(key)

    async def fan_out(self, raw: bytes) -> None:
        """A request of the privacy topic becomes a command on every events partition."""
        try:
            record = parse_privacy(raw)
        except ValueError as exc:
            log.warning("skipped a bad record on the privacy topic: %s", exc)
            return
        if not isinstance(record, EraseRequest):
            return  # reports are for the sink and the status
        command = erase_command(record)
        for partition in range(self.partitions):
            await self.emit(self.topics.events, record.request_id.encode(), command, partition)

    def is_erased_browser(self, site_id: str, *ids: str | None) -> bool:
        return any(
            id_ is not None and self.erased_browsers.get(subject(site_id, id_)) is not None
            for id_ in ids
        )

    def is_erased_profile(self, site_id: str, profile_id: str) -> bool:
        return self.erased_profiles.get(subject(site_id, profile_id)) is not None

    async def identity_part(self, body: dict[str, Any], partition: int) -> None:
        """Remove the linked browsers of this partition; ask every profile partition to
        remove their profiles; report."""
        try:
            request = EraseRequest.model_validate({k: v for k, v in body.items() if k != "command"})
        except ValueError as exc:
            raise InvalidMessage(f"a bad erase command: {exc}") from exc
        found = linked_browsers(self.identity.items(), request, partition, self.partitions)
        # The subjects are kept before the links go: a crash in between, and the command read
        # again finds the browsers in the erased-ids table instead of the links.
        for erased in {request.subject, *browser_subjects(request.site_id, found)}:
            self.erased_browsers[erased] = request.request_id
        subjects = sorted(
            erased
            for erased, request_id in self.erased_browsers.items()
            if request_id == request.request_id
        )
        await self.remove(self.identity, list(found), partition)
        for key in found:
            self.live_identities.entries.pop(key, None)
        message = erase_message(request.request_id, request.site_id, subjects, partition)
        for target in range(self.partitions):
            await self.emit(self.topics.identified, request.request_id.encode(), message, target)
        done = report(
            request.request_id,
            request.site_id,
            IDENTITY,
            str(partition),
            {"worker identity table": len(found)},
            datetime.now(UTC),
            subjects,
        )
        await self.emit(self.topics.privacy, request.request_id.encode(), done, None)
        log.info(
            "erasure %s: %d browsers removed on partition %d",
            request.request_id,
            len(found),
            partition,
        )

    async def profiles_part(self, message: EraseMessage, partition: int) -> None:
        """Remove this partition's profiles of the subjects, publish their tombstones."""
        subjects = set(message.subjects)
        keys = profile_keys(
            list(self.profiles.keys()), message.site_id, subjects, partition, self.partitions
        )
        await self.drop_profiles(keys, partition)
        for erased in sorted(subjects):
            self.erased_profiles[erased] = message.request_id
        done = report(
            message.request_id,
            message.site_id,
            PROFILES,
            f"{message.from_part}->{partition}",
            {"worker profiles table": len(keys), "profiles topic (tombstones)": len(keys)},
            datetime.now(UTC),
        )
        await self.emit(self.topics.privacy, message.request_id.encode(), done, None)


def compact(table: TableT[Any, Any], partition: int) -> None:
    """Make the removal physical in the table's files: RocksDB keeps a deleted value in its
    write-ahead log and older files until a flush and a compaction rewrite them (its
    MANIFEST keeps the boundary keys of the files it dropped until the next start). (Faust's
    store exposes its per-partition databases only as ``_dbs``; the memory store has none.)"""
    databases = getattr(table.data, "_dbs", None)
    db = databases.get(partition) if isinstance(databases, dict) else None
    if db is None:
        return
    db.flush()
    options = rocksdict.CompactOptions()
    # Force: a lone file is otherwise moved to the last level as it is, tombstones and all.
    options.set_bottommost_level_compaction(rocksdict.BottommostLevelCompaction.force())
    db.compact_range(None, None, options)


def command_body(raw: bytes) -> dict[str, Any]:
    try:
        body: dict[str, Any] = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidMessage(f"a command that is not JSON: {exc}") from exc
    return body
