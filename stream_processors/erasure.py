"""Erasing a customer in the worker: which keys go, and the messages that carry it. Pure.

A table entry may only be removed by the agent reading the partition it lives in: Faust writes
the tombstone to the changelog partition of the message being processed. So the request read
from the privacy topic is fanned out as a command to every partition of ``events``; the
identity step on partition ``p`` removes the browsers of ``p`` linked to the customer, keeps
their subjects in its erased-ids table (later events of them are dropped) and sends an
``erase`` message to every partition of ``events.identified``; there the profile step removes
the profiles of its partition (customer and the browsers' anonymous profiles), publishes their
tombstones on ``profiles`` and keeps the subjects too. Each step reports on the privacy topic.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import orjson
from aiokafka.partitioner import murmur2

from schemas.privacy import EraseRequest, ErasureReport, subject
from stream_processors.identity import key_parts

ERASE_COMMAND = "erase"


def partition_of(key: bytes, partitions: int) -> int:
    """The partition the producers' default partitioner (murmur2) picks for ``key``."""
    hashed: int = murmur2(key)
    return (hashed & 0x7FFFFFFF) % partitions


def erase_command(request: EraseRequest) -> bytes:
    """The command sent to every partition of the events topic (``{"command": …`` first)."""
    return orjson.dumps({"command": ERASE_COMMAND} | request.model_dump(mode="json"))


def is_erase(body: dict[str, Any]) -> bool:
    return body.get("command") == ERASE_COMMAND


def linked_browsers(
    entries: Iterable[tuple[str, Any]], request: EraseRequest, partition: int, partitions: int
) -> dict[str, set[str]]:
    """Identity keys of ``partition`` linked (now or ever) to the customer, with the customer
    ids they name (the subject matches; the ids are needed for the profile keys)."""
    prefix = f"{request.site_id}:"
    found: dict[str, set[str]] = {}
    for key, value in entries:
        if not key.startswith(prefix) or not isinstance(value, dict):
            continue
        if partition_of(key.encode(), partitions) != partition:
            continue
        customers = {
            str(link.get("customer"))
            for link in value.get("links") or []
            if subject(request.site_id, str(link.get("customer"))) == request.subject
        }
        if customers:
            found[key] = customers
    return found


def browser_subjects(site_id: str, keys: Iterable[str]) -> list[str]:
    return sorted({subject(site_id, key_parts(key)[1]) for key in keys})


def profile_keys(
    keys: Iterable[str], site_id: str, subjects: set[str], partition: int, partitions: int
) -> list[str]:
    """Profile keys of ``partition`` whose profile id is one of ``subjects``."""
    prefix = f"{site_id}:"
    return [
        key
        for key in keys
        if key.startswith(prefix)
        and subject(site_id, key_parts(key)[1]) in subjects
        and partition_of(key.encode(), partitions) == partition
    ]


def erase_message(request_id: str, site_id: str, subjects: list[str], from_part: int) -> bytes:
    """The message for one partition of ``events.identified``."""
    return orjson.dumps(
        {
            "kind": "erase",
            "site_id": site_id,
            "request_id": request_id,
            "subjects": subjects,
            "from_part": from_part,
        }
    )


def report(
    request_id: str,
    site_id: str,
    component: str,
    part: str,
    removed: dict[str, int],
    at: datetime,
    subjects: list[str] | None = None,
) -> bytes:
    return (
        ErasureReport(
            request_id=request_id,
            site_id=site_id,
            component=component,
            part=part,
            removed=removed,
            subjects=subjects or [],
            at=at,
        )
        .model_dump_json()
        .encode()
    )
