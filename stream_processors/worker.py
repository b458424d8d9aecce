"""The Faust app: thin agents around the pure functions of this package.

``events`` (keyed by site + anonymous id) → identity agent → ``events.identified`` (keyed by
site + profile id, each message carrying the source partition and offset) → profile agent →
``profiles`` snapshots (throttled) and ``journey`` transitions.
"""

from __future__ import annotations

import logging
import os
import time
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

import faust
import orjson
from aiokafka.admin import NewTopic
from mode.utils.times import want_seconds
from pydantic import ValidationError

from footfall.config import BrokerKind
from schemas.events import Envelope, OrderPlaced, OrderRefunded, parse_event
from schemas.profile import Profile
from stream_processors.continuity import Continuity
from stream_processors.figures import figure_values, snapshot, stored
from stream_processors.identity import (
    BrowserIdentity,
    event_message,
    is_command,
    merge_message,
    route_at,
    table_key,
    undo_link,
)
from stream_processors.journey_step import JourneyConfig, earliest_due, is_due
from stream_processors.live import LiveCache
from stream_processors.messages import (
    EventMessage,
    InvalidMessage,
    parse_message,
    reason_of,
    tick_message,
)
from stream_processors.outbox import Record
from stream_processors.poison import DlqLimit, DlqLimitExceeded, dead_letter, is_poison
from stream_processors.profile_step import Applied, Replayed, StepConfig, load, step
from stream_processors.segments import figures_used, load_config
from stream_processors.settings import WorkerSettings
from stream_processors.snapshots import Throttle
from stream_processors.table_codec import register_table_codec
from stream_processors.transport import WorkerApp, credentials
from stream_processors.views import add_views

log = logging.getLogger("footfall.worker")
SWEEP_DELAYS_S = (1.0, 5.0, 15.0, 40.0)
EXIT_BUG = 70
"""Exit status of a worker stopped by a bug in its own code or by the DLQ limit."""
Routed = tuple[str, bytes]
"""(key, value) of a message for the re-keyed topic."""


def stop_the_worker(why: str, exc: BaseException) -> NoReturn:
    """Stop at once, before anything commits past the message being processed: the message
    is read again when the worker comes back (fixed). Tables and offsets are as durable as
    after a ``kill -9``."""
    log.critical("stopping the worker: %s", why, exc_info=exc)
    logging.shutdown()
    os._exit(EXIT_BUG)


def reason(exc: Exception) -> str:
    """The DLQ reason of a rejected message."""
    if isinstance(exc, ValidationError):
        return reason_of(exc)
    return f"{type(exc).__name__}: {exc}"


def build_app(settings: WorkerSettings) -> faust.App:
    """The Faust app with its tables and agents, configured from ``settings``."""
    topics = settings.topics
    rules = settings.profile_rules()
    app = WorkerApp(
        settings.app_id,
        broker=f"kafka://{settings.kafka_bootstrap_servers}",
        broker_credentials=credentials(settings),
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
    app.fetch_max_wait_ms = settings.fetch_max_wait_ms  # before the transport is made
    app.idempotent_producer = settings.broker_kind is BrokerKind.kafka
    app.gapless_topics = frozenset({topics.events, topics.identified})
    events_topic = app.topic(topics.events, partitions=settings.partitions)
    identified_topic = app.topic(topics.identified, partitions=settings.partitions)
    dlq_topic = app.topic(topics.dlq, partitions=settings.partitions)
    for output in (topics.profiles, topics.journey, topics.segments):
        app.topic(output, partitions=settings.partitions)  # written through ``emit``
    segments = load_config(settings.segments_file)  # a bad rule stops the worker here
    journey = JourneyConfig(settings.journey, segments)
    used = figures_used(segments)
    if used:  # only the figures the rules read are computed, at every evaluation
        journey = JourneyConfig(
            settings.journey, segments, lambda p, at: figure_values(p, at, used, rules)
        )
    step_config = StepConfig(journey, rules)
    ticked: dict[str, str] = {}  # due times already asked for; the due times live in the table

    json_schema: faust.Schema[str, Any] = faust.Schema(
        key_serializer="json", value_serializer=register_table_codec()
    )
    identity = app.Table("identity", partitions=settings.partitions, schema=json_schema)
    profiles = app.Table("profiles", partitions=settings.partitions, schema=json_schema)
    # Validated objects last stored per key; emptied whenever partitions move.
    live_identities: LiveCache[BrowserIdentity] = LiveCache(settings.live_cache_size)
    live_profiles: LiveCache[Profile] = LiveCache(settings.live_cache_size)
    throttle = Throttle(settings.snapshot_interval_s)
    # Sweeps for unpublished final states after start-up and each rebalance: a few, spaced,
    # because tables of newly assigned partitions may still be recovering at the first one.
    sweeps: list[float] = [time.monotonic() + delay for delay in SWEEP_DELAYS_S]
    published_here: dict[str, int] = {}

    async def emit(topic: str, key: bytes, value: bytes) -> None:
        """Hand a record straight to the producer; the consumer flushes it before it
        commits the offsets of the messages that led to it."""
        await app.producer.send(topic, key, value, None, None, None)

    async def reject(raw: bytes, reason: str, stage: str) -> None:
        log.warning("rejected message in %s: %s", stage, reason)
        await dlq_topic.send(value=dead_letter(raw, reason, stage))

    continuity = Continuity()  # messages the consumer skipped are read again

    async def in_order(record: faust.types.EventT[bytes]) -> bool:
        """True when the message comes right after the last one of its partition; otherwise
        the partition is sent back to the first message skipped (this one comes again)."""
        message, consumer = record.message, app.consumer
        committed = consumer.committed(message.tp)  # type: ignore[attr-defined]
        verdict = continuity.check(message.tp, message.offset, time.monotonic(), committed)
        if verdict.new_hole:
            log.warning(
                "%s: offsets %d..%d were skipped by the consumer; reading them again",
                message.tp,
                verdict.rewind_to,
                message.offset - 1,
            )
        if verdict.accepted_hole is not None:
            start, end = verdict.accepted_hole
            log.error("%s: offsets %d..%d are gone from the broker", message.tp, start, end - 1)
        await consumer.follow(message.tp, verdict)  # type: ignore[attr-defined]
        return verdict.deliver

    dlq_limit = DlqLimit(settings.dlq_max_consecutive, settings.dlq_max_ratio)

    async def rejected(raw: bytes, exc: Exception, stage: str) -> None:
        """Poison goes to the DLQ (within the limit); anything else is a bug: stop."""
        if not is_poison(exc):
            stop_the_worker(f"a bug in the {stage} step", exc)
        try:
            dlq_limit.record(rejected=True)
        except DlqLimitExceeded as limit:
            stop_the_worker(f"the DLQ limit of the {stage} step", limit)
        await reject(raw, reason(exc), stage)

    @app.agent(events_topic)
    async def resolve_identity(stream: faust.StreamT[bytes]) -> None:
        async for record in stream.events():
            if not await in_order(record):
                continue
            raw: bytes = record.value
            try:
                if is_command(raw):
                    await command(raw, record.message.offset)
                    continue
                event = parse_event(raw)
                source = (record.message.partition, record.message.offset)
                routed = route_one(event, raw, source)
            except Exception as exc:  # sorted into poison and bugs
                await rejected(raw, exc, "identity")
                continue
            dlq_limit.record(rejected=False)
            for key, value in routed:
                await emit(topics.identified, key.encode(), value)

    async def command(raw: bytes, offset: int) -> None:
        try:
            body = orjson.loads(raw)
            browser = table_key(body["site_id"], body["anonymous_id"])
        except KeyError as exc:
            raise InvalidMessage(f"a command without {exc}") from exc
        before = browser_identity(browser)
        after = undo_link(before, offset, datetime.now(UTC))
        identity[browser] = after.model_dump(mode="json", exclude_defaults=True)
        live_identities.put(browser, after)

    def browser_identity(browser: str) -> BrowserIdentity:
        return live_identities.get(
            browser, lambda: BrowserIdentity.model_validate(identity.get(browser) or {})
        )

    def route_one(event: Envelope, raw: bytes, source: tuple[int, int]) -> list[Routed]:
        """Route the event (the identity table is updated); the messages to send for it."""
        browser = table_key(event.site_id, event.anonymous_id)
        before = browser_identity(browser)
        routing, after = route_at(before, event, source[1])
        if after.links != before.links:
            identity[browser] = after.model_dump(mode="json", exclude_defaults=True)
            live_identities.put(browser, after)
        out: list[Routed] = []
        if routing.merge_from is not None:
            merge_id = f"merge:{event.event_id}"
            merge = merge_message(event.site_id, routing.merge_from, routing.profile_id, merge_id)
            out.append((table_key(event.site_id, routing.merge_from), merge))
        message = event_message(event, raw, routing.profile_id, source)
        return [*out, (table_key(event.site_id, routing.profile_id), message)]

    async def publish(key: str, profile: Profile) -> Profile:
        await emit(topics.profiles, key.encode(), snapshot(profile, datetime.now(UTC), rules))
        return profile.model_copy(update={"published_version": profile.version})

    roles = {
        "journey": topics.journey,
        "segments": topics.segments,
        "identified": topics.identified,
    }

    async def send(record: Record) -> None:
        role, key, value = record
        await emit(roles[role], key.encode(), value.encode())

    async def replayed(key: str, profile: Profile, records: list[Record]) -> None:
        """A message read again after a crash: its state is stored, but its records and
        snapshot may never have reached the broker. Send them again."""
        for record in records:
            await send(record)
        await publish(key, profile)

    async def applied(key: str, before: Profile, outcome: Applied) -> None:
        """Send the step's records, store the profile, publish a (throttled) snapshot."""
        for record in outcome.records:
            await send(record)
        after = outcome.after
        if not outcome.changed(before):
            if after.published_version < after.version:
                throttle.held.setdefault(key, time.monotonic())
            return
        if throttle.publish_now(key, time.monotonic(), urgent=outcome.urgent):
            after = await publish(key, after)
        profiles[key] = stored(after)
        live_profiles.put(key, after)

    def warn_unpriced(event: Envelope) -> None:
        """An order or refund kept apart from revenue: say which rate is missing."""
        if isinstance(event, (OrderPlaced, OrderRefunded)):
            missing = rules.money.missing_rate(event.properties.currency, event.site_id)
            if missing is not None:
                log.warning("event %s kept apart from revenue: %s", event.event_id, missing)

    def profile_at(key: str, site_id: str, profile_id: str) -> Profile:
        return live_profiles.get(key, lambda: load(profiles.get(key), site_id, profile_id))

    @app.agent(identified_topic)
    async def update_profiles(stream: faust.StreamT[bytes]) -> None:
        async for record in stream.events():
            if not await in_order(record):
                continue
            raw: bytes = record.value
            try:
                message = parse_message(raw)
                key = table_key(message.site_id, message.profile_id)
                before = profile_at(key, message.site_id, message.profile_id)
                outcome = step(before, message, step_config, datetime.now(UTC), time.time())
            except Exception as exc:  # sorted into poison and bugs
                await rejected(raw, exc, "profile")
                continue
            dlq_limit.record(rejected=False)
            if isinstance(message, EventMessage) and isinstance(outcome, Applied):
                warn_unpriced(message.event)
            if isinstance(outcome, Replayed):
                await replayed(key, before, outcome.records)
            else:
                await applied(key, before, outcome)

    @app.timer(settings.timer_interval_s)  # type: ignore[untyped-decorator]
    async def scan_timers() -> None:
        """Ask the owning agent to fire timers that fell due without any new event."""
        if app.rebalancing or not app.tables.recovery.completed.is_set():  # type: ignore[attr-defined]
            return
        now = datetime.now(UTC) + timedelta(seconds=settings.clock_offset_s)
        for key, value in list(profiles.items()):
            due = earliest_due(value) if isinstance(value, dict) else None
            if due is None or not is_due(due, now) or ticked.get(key) == due:
                continue
            ticked[key] = due
            site_id, _, profile_id = key.partition(":")
            await emit(topics.identified, key.encode(), tick_message(site_id, profile_id, now))

    @app.timer(interval=max(0.2, settings.snapshot_interval_s / 2))  # type: ignore[untyped-decorator]
    async def flush_snapshots() -> None:
        """Publish held-back snapshots whose interval has passed (the final state too)."""
        if app.rebalancing or not app.tables.recovery.completed.is_set():  # type: ignore[attr-defined]
            return
        if sweeps and sweeps[0] <= time.monotonic():
            sweeps.pop(0)
            for key, value in list(profiles.items()):
                done = max(value.get("published_version", 0), published_here.get(key, 0))
                if value.get("version", 0) > done:
                    throttle.held.setdefault(key, 0.0)
        for key in throttle.due(time.monotonic()):
            value = profiles.get(key)
            throttle.sent(key, time.monotonic())
            if value is None:
                continue
            profile = Profile.model_validate(value)
            if profile.published_version < profile.version:
                # Tables change only inside a stream: the stored published_version catches
                # up on the profile's next change (a repeated snapshot is harmless).
                await publish(key, profile)
                published_here[key] = profile.version

    def partitions_moved() -> None:
        """Read every key from its table again and expect offsets from the committed ones."""
        continuity.forget()
        app.consumer.forget_rewinds()  # type: ignore[attr-defined]
        live_identities.clear()
        live_profiles.clear()

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def on_revoked(sender: Any, *_: Any, **__: Any) -> None:
        partitions_moved()

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]
    async def on_assigned(sender: Any, *_: Any, **__: Any) -> None:
        partitions_moved()

    @app.on_rebalance_complete.connect  # type: ignore[arg-type]
    async def after_rebalance(sender: Any, **_: Any) -> None:
        partitions_moved()
        throttle.held.clear()
        ticked.clear()  # profiles moved here are scanned afresh
        published_here.clear()
        sweeps[:] = [time.monotonic() + delay for delay in SWEEP_DELAYS_S]

    add_views(app, profiles, identity, settings, rules)
    return app


def changelog_topics(app: faust.App) -> list[NewTopic]:
    """The tables' changelog topics as Faust would create them, to be created (and listed
    by the broker) before Faust starts. Pure.

    Faust creates them itself right before its consumer joins the group; on Apache Kafka
    the first assignment can come before the broker lists a topic that new. Faust's assignor
    then leaves the changelog out ("Ignoring missing topic") and every write to its table
    raises ``PartitionsMismatch`` (0 partitions) until the consumer refreshes its metadata,
    five minutes later (robinhood/faust#499).
    """
    wanted = []
    for table in app.tables.values():
        topic = table.changelog_topic
        flags = (("compact", topic.compacting), ("delete", topic.deleting))
        cleanup = [name for name, on in flags if on]
        config = {"cleanup.policy": ",".join(cleanup)} if cleanup else {}
        if topic.retention:
            config["retention.ms"] = str(int(want_seconds(topic.retention) * 1000))
        wanted.append(
            NewTopic(
                name=topic.get_topic_name(),
                num_partitions=topic.partitions or app.conf.topic_partitions,
                replication_factor=topic.replicas or app.conf.topic_replication_factor,
                topic_configs=config
                | {key: str(value) for key, value in (topic.config or {}).items()},
            )
        )
    return wanted
