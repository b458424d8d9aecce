"""The worker process: two Faust agents that hand each message to a pure step.

``events`` (keyed by site + anonymous id) → identity agent → ``events.identified`` (keyed by
site + profile id, each message carrying the source partition and offset) → profile agent →
``profiles`` snapshots (throttled), ``journey`` transitions and ``segments`` changes. The
decisions live in :mod:`stream_processors.identity` and :mod:`stream_processors.profile_step`;
the Faust and aiokafka overrides in :mod:`stream_processors.transport`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any, NoReturn, cast

import faust
from aiokafka.admin import NewTopic
from mode.utils.times import want_seconds
from pydantic import ValidationError

from base.config import BrokerKind
from base.retention import Kind
from schemas.events import Envelope, OrderPlaced, OrderRefunded, parse_event
from schemas.profile import Profile
from stream_processors.batch import PendingProfiles
from stream_processors.continuity import Continuity
from stream_processors.due_index import DueIndex
from stream_processors.erasing import WorkerErasure, command_body
from stream_processors.erasure import is_erase, partition_of
from stream_processors.expiry import (
    expire_messages,
    forget_commands,
    forget_links,
    forgotten_browsers,
    forgotten_customers,
    inactive_keys,
    is_forget,
)
from stream_processors.figures import figure_values, snapshot, stored
from stream_processors.identity import (
    BrowserIdentity,
    Routed,
    is_command,
    key_parts,
    route_at,
    routed_messages,
    table_key,
    undo_link,
)
from stream_processors.journey_step import JourneyConfig
from stream_processors.live import LiveCache
from stream_processors.messages import (
    EraseMessage,
    EventMessage,
    ExpireMessage,
    InvalidMessage,
    TickMessage,
    parse_identified,
    reason_of,
    tick_message,
)
from stream_processors.outbox import Record
from stream_processors.poison import DlqLimit, DlqLimitExceeded, dead_letter, is_poison
from stream_processors.profile_step import Replayed, StepConfig, load, step
from stream_processors.rules import ProfileRules
from stream_processors.segments import figures_used, load_config
from stream_processors.settings import WorkerSettings
from stream_processors.snapshots import Throttle
from stream_processors.table_codec import register_table_codec
from stream_processors.transport import WorkerApp, credentials, store_url, stream_event
from stream_processors.views import add_views

log = logging.getLogger("footfall.worker")
Pending = PendingProfiles[faust.types.EventT[bytes]]
"""The profiles a batch changed, each with the message that changed it last."""
SWEEP_DELAYS_S = (1.0, 5.0, 15.0, 40.0)
EXPIRY_SCAN_CHUNK = 1000
"""Profiles the expiry scan reads before it lets the event loop serve the agents again: a
table of millions is read over many turns of the loop, not in one that stalls the worker."""
EXIT_BUG = 70
"""Exit status of a worker stopped by a bug in its own code or by the DLQ limit."""


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
    return Worker(settings).app


def faust_app(settings: WorkerSettings) -> WorkerApp:
    """The Faust app alone: broker, store, consumer and producer settings."""
    app = WorkerApp(
        settings.app_id,
        broker=f"kafka://{settings.kafka_bootstrap_servers}",
        broker_credentials=credentials(settings),
        store=store_url(settings.store),
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
    app.fetch_max_wait_s = settings.fetch_max_wait_s  # before the transport is made
    app.idempotent_producer = settings.broker_kind is BrokerKind.kafka
    app.gapless_topics = frozenset({settings.topics.events, settings.topics.identified})
    return app


def step_config(settings: WorkerSettings, rules: ProfileRules) -> StepConfig:
    """The rules of the pure step; a bad segment rule stops the worker here."""
    segments = load_config(settings.segments_file)
    used = figures_used(segments)
    if not used:
        return StepConfig(JourneyConfig(settings.journey, segments, rules), rules)
    # The published figures are computed only when a rule reads one, at every evaluation.
    return StepConfig(
        JourneyConfig(
            settings.journey, segments, rules, lambda p, at: figure_values(p, at, used, rules)
        ),
        rules,
    )


class Worker:
    """The two agents and two timers of the worker, and the state they share.

    ``events`` (keyed by site + anonymous id) → :meth:`resolve_identity` → ``events.identified``
    (keyed by site + profile id) → :meth:`update_profiles` → ``profiles`` snapshots (throttled),
    ``journey`` transitions and ``segments`` changes. Each agent checks a message's place in
    its partition, hands it to a pure step (:func:`route_at`, :func:`step`) and does the step's
    I/O; poison goes to the DLQ, a bug stops the worker.
    """

    def __init__(self, settings: WorkerSettings) -> None:
        self.settings = settings
        self.topics = settings.topics
        self.rules = settings.profile_rules()
        self.config = step_config(settings, self.rules)
        self.app = app = faust_app(settings)
        partitions = settings.partitions
        events_topic = app.topic(self.topics.events, partitions=partitions)
        identified_topic = app.topic(self.topics.identified, partitions=partitions)
        self.dlq_topic = app.topic(self.topics.dlq, partitions=partitions)
        for output in (self.topics.profiles, self.topics.journey, self.topics.segments):
            app.topic(output, partitions=partitions)  # written through ``emit``
        self.roles = {
            "journey": self.topics.journey,
            "segments": self.topics.segments,
            "identified": self.topics.identified,
            "audit": self.topics.audit,
        }
        schema: faust.Schema[str, Any] = faust.Schema(
            key_serializer="json", value_serializer=register_table_codec()
        )
        self.identity = app.Table("identity", partitions=partitions, schema=schema)
        self.profiles = app.Table("profiles", partitions=partitions, schema=schema)
        erased_browsers = app.Table("erased_browsers", partitions=partitions, schema=schema)
        erased_profiles = app.Table("erased_profiles", partitions=partitions, schema=schema)
        # Validated objects last stored per key; emptied whenever partitions move.
        self.live_identities: LiveCache[BrowserIdentity] = LiveCache(settings.live_cache_size)
        self.live_profiles: LiveCache[Profile] = LiveCache(settings.live_cache_size)
        self.continuity = Continuity()  # messages the consumer skipped are read again
        self.dlq_limit = DlqLimit(settings.dlq_max_consecutive, settings.dlq_max_ratio)
        self.throttle = Throttle(settings.snapshot_interval_s)
        self.dues = DueIndex()  # the table's due times, filled once per assignment
        self.erasure = WorkerErasure(
            self.topics,
            partitions,
            self.identity,
            self.profiles,
            erased_browsers,
            erased_profiles,
            self.live_identities,
            self.live_profiles,
            self.throttle,
            self.dues,
            self.emit_to,
            self.flush,
        )
        self.ticked: dict[str, str] = {}  # due times asked for; the due times live in the table
        # Sweeps for unpublished final states after start-up and each rebalance: a few,
        # spaced, because tables of newly assigned partitions may still be recovering.
        self.sweeps: list[float] = [time.monotonic() + delay for delay in SWEEP_DELAYS_S]
        self.published_here: dict[str, int] = {}

        app.agent(events_topic, name="resolve_identity")(self.resolve_identity)
        app.agent(identified_topic, name="update_profiles")(self.update_profiles)
        privacy_topic = app.topic(self.topics.privacy, partitions=partitions)
        app.agent(privacy_topic, name="fan_out_erasures")(self.fan_out_erasures)
        app.timer(settings.timer_interval_s, name="scan_timers")(self.scan_timers)
        app.timer(settings.expiry_scan_s, name="expire_inactive")(self.expire_inactive)
        snapshot_every = max(0.2, settings.snapshot_interval_s / 2)
        app.timer(snapshot_every, name="flush_snapshots")(self.flush_snapshots)
        app.on_partitions_revoked.connect(self.on_partitions_moved)  # type: ignore[arg-type]
        app.on_partitions_assigned.connect(self.on_partitions_moved)  # type: ignore[arg-type]
        app.on_rebalance_complete.connect(self.after_rebalance)  # type: ignore[arg-type]
        add_views(app, self.profiles, self.identity, settings, self.rules)

    # ------------------------------------------------------------ delivery mechanics

    async def emit(self, topic: str, key: bytes, value: bytes) -> None:
        """Hand a record straight to the producer; the consumer flushes it before it
        commits the offsets of the messages that led to it."""
        await self.app.producer.send(topic, key, value, None, None, None)

    async def flush(self) -> None:
        await self.app.producer.flush()

    async def emit_to(self, topic: str, key: bytes, value: bytes | None, part: int | None) -> None:
        """:meth:`emit` to a given partition, or a tombstone (``value`` None)."""
        await self.app.producer.send(topic, key, value, part, None, None)

    async def in_order(self, record: faust.types.EventT[bytes]) -> bool:
        """True when the message comes right after the last one of its partition; otherwise
        the partition is sent back to the first message skipped (this one comes again)."""
        message, consumer = record.message, self.app.consumer
        committed = consumer.committed(message.tp)  # type: ignore[attr-defined]
        verdict = self.continuity.check(message.tp, message.offset, time.monotonic(), committed)
        if verdict.stale:
            earliest = (await consumer.earliest_offsets(message.tp))[message.tp]
            verdict = self.continuity.resume(message.tp, message.offset, time.monotonic(), earliest)
            log.warning(
                "%s: a rewind still waits for its first message; seeking again to %s",
                message.tp,
                verdict.rewind_to if verdict.rewind_to is not None else message.offset,
            )
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

    def current(self, record: faust.types.EventT[bytes]) -> bool:
        """From the group's current generation, no rebalance under way. Faust's stream
        skips a message otherwise when it hands it over; the messages of a batch were
        handed over earlier, and a rebalance may come while the batch is processed."""
        app = self.app
        return app.flow_control.is_active() and (
            record.message.generation_id == app.consumer_generation_id
        )

    async def rejected(self, raw: bytes, exc: Exception, stage: str) -> None:
        """Poison goes to the DLQ (within the limit); anything else is a bug: stop."""
        if not is_poison(exc):
            stop_the_worker(f"a bug in the {stage} step", exc)
        try:
            self.dlq_limit.record(rejected=True)
        except DlqLimitExceeded as limit:
            stop_the_worker(f"the DLQ limit of the {stage} step", limit)
        why = reason(exc)
        log.warning("rejected message in %s: %s", stage, why)
        await self.dlq_topic.send(value=dead_letter(raw, why, stage))

    # ------------------------------------------------------------ identity

    async def resolve_identity(self, stream: faust.StreamT[bytes]) -> None:
        async for record in stream.events():
            if not await self.in_order(record):
                continue
            raw: bytes = record.value
            offset = record.message.offset
            try:
                routed: list[Routed] = []
                if is_command(raw):
                    await self.command(raw, record.message.partition, offset)
                else:
                    event = parse_event(raw)
                    routed = self.route(event, raw, (record.message.partition, offset))
            except Exception as exc:  # sorted into poison and bugs
                await self.rejected(raw, exc, "identity")
                continue
            self.dlq_limit.record(rejected=False)
            for key, value in routed:
                await self.emit(self.topics.identified, key.encode(), value)

    def browser_identity(self, browser: str) -> BrowserIdentity:
        return self.live_identities.get(
            browser, lambda: BrowserIdentity.model_validate(self.identity.get(browser) or {})
        )

    def store_identity(self, browser: str, identity: BrowserIdentity) -> None:
        self.identity[browser] = identity.model_dump(mode="json", exclude_defaults=True)
        self.live_identities.put(browser, identity)

    async def command(self, raw: bytes, partition: int, offset: int) -> None:
        body = command_body(raw)
        if is_erase(body):
            await self.erasure.identity_part(body, partition)
            return
        if is_forget(body):
            await self.forget_customers(body, partition)
            return
        try:
            browser = table_key(body["site_id"], body["anonymous_id"])
        except KeyError as exc:
            raise InvalidMessage(f"a command without {exc}") from exc
        self.store_identity(browser, undo_link(self.browser_identity(browser), offset, now()))

    async def forget_customers(self, body: dict[str, Any], partition: int) -> None:
        """Take the links to customers removed for inactivity out of this partition's
        browsers (those left with none are removed, tombstones first)."""
        try:
            customers, named = forgotten_customers(body), forgotten_browsers(body)
        except (ValueError, TypeError) as exc:
            raise InvalidMessage(f"a bad forget_customers command: {exc}") from exc
        browsers = [(key, self.identity.get(key)) for key in named]
        changes = forget_links(browsers, customers, partition, self.settings.partitions)
        for key, value in changes.items():
            if value is not None:
                self.store_identity(key, BrowserIdentity.model_validate(value))
        gone = [key for key, value in changes.items() if value is None]
        await self.erasure.remove(self.identity, gone, partition)
        for key in gone:
            self.live_identities.entries.pop(key, None)

    def route(self, event: Envelope, raw: bytes, source: tuple[int, int]) -> list[Routed]:
        """Route the event (its browser's links stored); the messages to send for it."""
        if self.erasure.is_erased_browser(event.site_id, event.anonymous_id, event.customer_id):
            return []  # an erased customer's event still in flight: dropped
        browser = table_key(event.site_id, event.anonymous_id)
        before = self.browser_identity(browser)
        routing, after = route_at(before, event, source[1])
        if after.links != before.links:
            self.store_identity(browser, after)
        return routed_messages(event, raw, routing, source)

    # ------------------------------------------------------------ profiles

    async def update_profiles(self, stream: faust.StreamT[bytes]) -> None:
        """Fold micro-batches: each message stepped on its profile's latest state, each
        touched profile written once per batch, before the batch is acknowledged."""
        # faust.StreamT does not declare take_events; every stream Faust hands an agent has it.
        batches = cast(faust.Stream[bytes], stream).take_events(
            self.settings.batch_max_messages, self.settings.batch_within_s
        )
        consumer = self.app.consumer
        async for records in batches:
            pending: Pending = PendingProfiles()
            for record in records:
                if not self.current(record):
                    continue  # gathered before a rebalance: read again from the committed offset
                with stream_event(record):  # what Faust's tables read the partition from
                    if await self.in_order(record):
                        # No commit passes the batch before its state is written.
                        consumer.hold(record.message.tp, record.message.offset)  # type: ignore[attr-defined]
                        await self.profile_message(record, pending)
            try:
                await self.write_batch(pending)
            except Exception as exc:  # nothing of the batch is acknowledged yet
                stop_the_worker("a bug writing a batch of profiles", exc)
            consumer.release()  # type: ignore[attr-defined]

    async def profile_message(self, record: faust.types.EventT[bytes], pending: Pending) -> None:
        raw: bytes = record.value
        try:
            message = parse_identified(raw)
            if isinstance(message, EraseMessage | ExpireMessage):
                await self.write_batch(pending)  # the removal sees every state of the batch
                if isinstance(message, EraseMessage):
                    await self.erasure.profiles_part(message, record.message.partition)
                else:
                    await self.expire(message, record.message.partition)
                return
            if self.erasure.is_erased_profile(message.site_id, message.profile_id):
                return  # in flight when its customer was erased: dropped
            key = table_key(message.site_id, message.profile_id)
            latest = pending.latest(key)
            if isinstance(message, TickMessage) and latest is None and key not in self.profiles:
                return  # asked for before its profile was removed: nothing to fire
            before = latest or self.profile_at(key, message.site_id, message.profile_id)
            outcome = step(before, message, self.config, now(), time.time())
        except Exception as exc:  # sorted into poison and bugs
            await self.rejected(raw, exc, "profile")
            return
        self.dlq_limit.record(rejected=False)
        if isinstance(outcome, Replayed):
            await self.replayed(key, before, outcome.records)
            return
        if isinstance(message, EventMessage):
            self.warn_unpriced(message.event)
        for out in outcome.records:
            await self.send(out)
        if not pending.fold(key, before, outcome, record) and key not in pending.touched:
            after = outcome.after
            if after.published_version < after.version:
                self.throttle.held.setdefault(key, time.monotonic())

    def inactive_days(self, site_id: str) -> int:
        return self.settings.days(Kind.inactive_profiles, site_id)

    async def expire(self, message: ExpireMessage, partition: int) -> None:
        """Remove the listed profiles of this partition that are still inactive."""
        parts = self.settings.partitions
        listed = [k for k in message.keys if partition_of(k.encode(), parts) == partition]
        found = [(key, self.profiles.get(key)) for key in listed]
        gone = inactive_keys(found, message.now, self.inactive_days)
        await self.erasure.drop_profiles(gone, partition)
        for key in gone:
            self.ticked.pop(key, None)
            self.published_here.pop(key, None)
        for target, command in forget_commands(gone, dict(found), parts):
            await self.emit_to(self.topics.events, b"expire", command, target)
        if gone:
            log.info("partition %d: %d inactive profiles removed", partition, len(gone))

    async def fan_out_erasures(self, stream: faust.StreamT[bytes]) -> None:
        async for raw in stream:
            await self.erasure.fan_out(raw)

    def profile_at(self, key: str, site_id: str, profile_id: str) -> Profile:
        return self.live_profiles.get(
            key, lambda: load(self.profiles.get(key), site_id, profile_id)
        )

    async def send(self, record: Record) -> None:
        role, key, value = record
        await self.emit(self.roles[role], key.encode(), value.encode())

    async def publish(self, key: str, profile: Profile) -> Profile:
        body = snapshot(profile, now(), self.rules)
        await self.emit(self.topics.profiles, key.encode(), body)
        return profile.model_copy(update={"published_version": profile.version})

    async def replayed(self, key: str, profile: Profile, records: list[Record]) -> None:
        """A message read again after a crash: its state is stored, but its records and
        snapshot may never have reached the broker. Send them again."""
        for record in records:
            await self.send(record)
        await self.publish(key, profile)

    async def write_batch(self, pending: Pending) -> None:
        """Store each profile the batch changed, once, in the partition of the message that
        changed it last, and publish its (throttled) snapshot."""
        for key, touched in pending.drain():
            if not self.current(touched.origin):
                continue  # a rebalance during the batch: its messages are read again
            after = touched.profile
            if self.throttle.publish_now(key, time.monotonic(), urgent=touched.urgent):
                after = await self.publish(key, after)
            value = stored(after)
            with stream_event(touched.origin):
                self.profiles[key] = value
            self.dues.note(key, value)
            self.live_profiles.put(key, after)

    def warn_unpriced(self, event: Envelope) -> None:
        """An order or refund kept apart from revenue: say which rate is missing."""
        if isinstance(event, (OrderPlaced, OrderRefunded)):
            missing = self.rules.money.missing_rate(event.properties.currency, event.site_id)
            if missing is not None:
                log.warning("event %s kept apart from revenue: %s", event.event_id, missing)

    # ------------------------------------------------------------ timers

    def settled(self) -> bool:
        """Tables recovered and no rebalance under way: timers may read them."""
        recovered = self.app.tables.recovery.completed.is_set()  # type: ignore[attr-defined]
        return recovered and not self.app.rebalancing

    async def scan_timers(self) -> None:
        """Ask the owning agent to fire timers that fell due without any new event."""
        if not self.settled():
            return
        at = now() + timedelta(seconds=self.settings.clock_offset_s)
        if not self.dues.complete:
            self.dues.fill(self.profiles.items())
        for key, due in self.dues.due_by(at):
            if self.ticked.get(key) == due:
                continue
            self.ticked[key] = due
            tick = tick_message(*key_parts(key), at)
            await self.emit(self.topics.identified, key.encode(), tick)

    async def expire_inactive(self) -> None:
        """Ask the owning agent of each partition to remove the profiles inactive past their
        site's retention (the stored rows go by the sink's TTL)."""
        if not self.settled() or not self.settings.ends(Kind.inactive_profiles):
            return
        at = now() + timedelta(seconds=self.settings.clock_offset_s)
        items, keys = iter(self.profiles.items()), []
        while chunk := list(islice(items, EXPIRY_SCAN_CHUNK)):
            keys += inactive_keys(chunk, at, self.inactive_days)
            await asyncio.sleep(0)  # the agents and timers run between chunks
            if not self.settled():
                return  # partitions moving: the next scan starts afresh
        for partition, message in expire_messages(keys, at, self.settings.partitions):
            await self.emit_to(self.topics.identified, b"expire", message, partition)

    async def flush_snapshots(self) -> None:
        """Publish held-back snapshots whose interval has passed (the final state too)."""
        if not self.settled():
            return
        if self.sweeps and self.sweeps[0] <= time.monotonic():
            self.sweeps.pop(0)
            for key, value in list(self.profiles.items()):
                done = max(value.get("published_version", 0), self.published_here.get(key, 0))
                if value.get("version", 0) > done:
                    self.throttle.held.setdefault(key, 0.0)
        for key in self.throttle.due(time.monotonic()):
            value = self.profiles.get(key)
            self.throttle.sent(key, time.monotonic())
            if value is None:
                continue
            profile = Profile.model_validate(value)
            if profile.published_version < profile.version:
                # Tables change only inside a stream: the stored published_version catches
                # up on the profile's next change (a repeated snapshot is harmless).
                await self.publish(key, profile)
                self.published_here[key] = profile.version

    # ------------------------------------------------------------ rebalances

    async def on_partitions_moved(self, sender: Any, *_: Any, **__: Any) -> None:
        """Read every key from its table again and expect offsets from the committed ones."""
        self.continuity.forget()
        self.app.consumer.forget_rewinds()  # type: ignore[attr-defined]
        self.live_identities.clear()
        self.live_profiles.clear()
        self.dues.forget()

    async def after_rebalance(self, sender: Any, **_: Any) -> None:
        await self.on_partitions_moved(sender)
        self.throttle.held.clear()
        self.ticked.clear()  # profiles moved here are scanned afresh
        self.published_here.clear()
        self.sweeps[:] = [time.monotonic() + delay for delay in SWEEP_DELAYS_S]


def now() -> datetime:
    return datetime.now(UTC)


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
