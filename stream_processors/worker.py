"""The Faust app: thin agents around the pure functions of this package.

``events`` (keyed by site + anonymous id) → identity agent → ``events.identified`` (keyed by
site + profile id) → profile agent → ``profiles`` snapshots and ``journey`` transitions.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import faust
import orjson
from pydantic import ValidationError

from schemas.events import parse_event
from schemas.profile import Profile, StageTransition
from schemas.segments import SegmentChange
from stream_processors.identity import (
    absorb_message,
    event_message,
    merge_message,
    route,
    table_key,
)
from stream_processors.journey import advance, fire_timers
from stream_processors.profile import absorb, apply_event, new_profile
from stream_processors.segments import leave_all, load_config, update_segments
from stream_processors.settings import WorkerSettings

log = logging.getLogger("footfall.worker")


def build_app(settings: WorkerSettings) -> faust.App:
    """The Faust app with its tables and agents, configured from ``settings``."""
    topics = settings.topics
    app = faust.App(
        settings.app_id,
        broker=f"kafka://{settings.kafka_bootstrap_servers}",
        store=settings.store,
        datadir=str(settings.data_dir),
        topic_partitions=settings.partitions,
        topic_replication_factor=1,
        topic_allow_declare=True,
        producer_max_batch_size=settings.producer_batch_limit,
        producer_acks=-1,
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=settings.heartbeat_interval_s,
        broker_rebalance_timeout=settings.rebalance_timeout_s,
        broker_commit_interval=settings.commit_interval_s,
        consumer_auto_offset_reset="earliest",
        key_serializer="raw",
        value_serializer="raw",
        web_host=settings.web_host,
        web_port=settings.web_port,
        web_bind=settings.web_host,
        web_enabled=True,
    )
    events_topic = app.topic(topics.events, partitions=settings.partitions)
    identified_topic = app.topic(topics.identified, partitions=settings.partitions)
    dlq_topic = app.topic(topics.dlq, partitions=settings.partitions)
    profiles_topic = app.topic(topics.profiles, partitions=settings.partitions)
    journey_topic = app.topic(topics.journey, partitions=settings.partitions)
    segments_topic = app.topic(topics.segments, partitions=settings.partitions)
    segments = load_config(settings.segments_file)
    ticked: dict[str, str] = {}  # due times already asked for; the due times live in the table

    json_schema: faust.Schema[str, Any] = faust.Schema(
        key_serializer="json", value_serializer="json"
    )
    identity = app.Table("identity", partitions=settings.partitions, schema=json_schema)
    profiles = app.Table("profiles", partitions=settings.partitions, schema=json_schema)

    async def reject(raw: bytes, reason: str, stage: str) -> None:
        log.warning("rejected message in %s: %s", stage, reason)
        record = {"reason": reason, "stage": stage, "payload": raw.decode(errors="replace")}
        await dlq_topic.send(value=orjson.dumps(record))

    @app.agent(events_topic)
    async def resolve_identity(stream: faust.StreamT[bytes]) -> None:
        async for raw in stream:
            try:
                event = parse_event(raw)
            except ValidationError as exc:
                await reject(raw, str(exc), "identity")
                continue
            browser = table_key(event.site_id, event.anonymous_id)
            routing = route(event, identity.get(browser))
            if routing.link_to is not None:
                identity[browser] = routing.link_to
            if routing.merge_from is not None:
                await identified_topic.send(
                    key=table_key(event.site_id, routing.merge_from).encode(),
                    value=merge_message(
                        event.site_id,
                        routing.merge_from,
                        routing.profile_id,
                        f"merge:{event.event_id}",
                    ),
                )
            await identified_topic.send(
                key=table_key(event.site_id, routing.profile_id).encode(),
                value=event_message(event, raw, routing.profile_id),
            )

    async def publish(profile: Profile) -> None:
        await profiles_topic.send(
            key=table_key(profile.site_id, profile.profile_id).encode(),
            value=profile.model_dump_json(exclude={"seen_ids"}).encode(),
        )

    async def save(
        key: str,
        before: Profile,
        after: Profile,
        transitions: list[StageTransition],
        changes: list[SegmentChange],
    ) -> None:
        """Store the profile; publish it and every transition and segment change."""
        for transition in transitions:
            await journey_topic.send(key=key.encode(), value=transition.model_dump_json().encode())
        for change in changes:
            await segments_topic.send(key=key.encode(), value=change.model_dump_json().encode())
        if after.version == before.version and (transitions or changes):
            after = after.model_copy(update={"version": after.version + 1})
        if after.version != before.version:
            profiles[key] = after.model_dump(mode="json")
            await publish(after)

    def moved(
        profile: Profile, kind: str | None, at: datetime, event_id: str | None
    ) -> tuple[Profile, list[StageTransition], list[SegmentChange]]:
        """Journey stage and segments after an event (or a merge, ``kind`` None)."""
        profile, transitions = advance(profile, kind, at, event_id, settings.journey)
        profile, changes = update_segments(profile, at, kind or "merge", event_id, segments)
        return profile, transitions, changes

    def timed_out(
        profile: Profile, now: datetime
    ) -> tuple[Profile, list[StageTransition], list[SegmentChange]]:
        """Timer transitions due by ``now``; segments re-evaluated at the last one."""
        profile, transitions = fire_timers(profile, now, settings.journey)
        if not transitions:
            return profile, [], []
        at = transitions[-1].at
        profile, changes = update_segments(profile, at, transitions[-1].cause, None, segments)
        return profile, transitions, changes

    @app.agent(identified_topic)
    async def update_profiles(stream: faust.StreamT[bytes]) -> None:
        async for raw in stream:
            try:
                await handle(orjson.loads(raw))
            except (ValidationError, orjson.JSONDecodeError, KeyError) as exc:
                await reject(raw, repr(exc), "profile")

    async def handle(message: dict[str, Any]) -> None:
        kind = message["kind"]
        site_id: str = message["site_id"]
        key = table_key(site_id, message["profile_id"])
        before = load(profiles.get(key), site_id, message["profile_id"])
        if kind == "event":
            event = parse_event(message["event"])
            # Timers that fell due before this event fire first, at their own time.
            current, transitions, changes = timed_out(before, event.occurred_at)
            current = apply_event(current, event)
            current, more_transitions, more_changes = moved(
                current, event.type, event.occurred_at, str(event.event_id)
            )
            await save(key, before, current, transitions + more_transitions, changes + more_changes)
        elif kind == "tick":
            now = datetime.fromisoformat(message["now"])
            await save(key, before, *timed_out(before, now))
        elif kind == "merge" and before.version > 0 and before.merged_into is None:
            # Hand the anonymous profile over to its customer, once.
            await identified_topic.send(
                key=table_key(site_id, message["into"]).encode(),
                value=absorb_message(site_id, message["into"], before, message["merge_id"]),
            )
            gone = before.model_copy(update={"merged_into": message["into"], "segments": []})
            at = before.last_seen or before.first_seen
            assert at is not None, "a profile with events has a last_seen"
            await save(key, before, gone, [], leave_all(before, at, "merged"))
        elif kind == "absorb":
            other = Profile.model_validate(message["profile"])
            merged = absorb(before, other, message["merge_id"])
            if merged is before:
                return
            at = merged.last_seen or datetime.now(UTC)
            await save(key, before, *moved(merged, None, at, message["merge_id"]))

    @app.timer(settings.timer_interval_s)  # type: ignore[untyped-decorator]
    async def scan_timers() -> None:
        """Ask the owning agent to fire timers that fell due without any new event."""
        now = datetime.now(UTC) + timedelta(seconds=settings.clock_offset_s)
        for key, stored in list(profiles.items()):
            due = stored.get("due_at") if isinstance(stored, dict) else None
            if due is None or due > now.isoformat() or ticked.get(key) == due:
                continue
            ticked[key] = due
            site_id, _, profile_id = key.partition(":")
            tick = {
                "kind": "tick",
                "site_id": site_id,
                "profile_id": profile_id,
                "now": now.isoformat(),
            }
            await identified_topic.send(key=key.encode(), value=orjson.dumps(tick))

    return app


def load(stored: dict[str, Any] | None, site_id: str, profile_id: str) -> Profile:
    if stored is None:
        return new_profile(site_id, profile_id)
    return Profile.model_validate(stored)
