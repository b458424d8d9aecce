"""The dispatcher's three readers: input topics, the retry topic, and the profile snapshots.

Input and retry records start deliveries that run concurrently; their offsets are committed
once every delivery they started is settled. A reader pauses its partitions while too many
of its deliveries are held, so memory stays bounded, and no partition is held back by one slow
endpoint for long: a delivery that waits too long for a slot goes to the retry topic instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError
from pydantic import ValidationError

from base.kafka import client_options, consumer_timing, topic_partitions
from schemas.webhooks import Delivery
from webhooks.dispatcher import Dispatcher, utcnow
from webhooks.tracking import OffsetTracker

log = logging.getLogger("footfall.webhooks")

Handler = Callable[[TopicPartition, ConsumerRecord[Any, Any]], Awaitable[None]]


class Forget(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, tracker: OffsetTracker) -> None:
        self.tracker = tracker

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        self.tracker.forget(set(revoked))

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        return None


class Reader:
    """One consumer group: reads, hands records to ``handle``, commits settled offsets."""

    def __init__(self, dispatcher: Dispatcher, group_id: str, topics: list[str], name: str) -> None:
        self.dispatcher = dispatcher
        self.tracker = OffsetTracker()
        self.name = name
        settings = dispatcher.settings
        self.consumer = AIOKafkaConsumer(
            **client_options(settings),
            group_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=500,
            **consumer_timing(settings),
        )
        self.consumer.subscribe(topics, listener=Forget(self.tracker))
        self.paused = False
        self.held = 0

    def hold(self, delivery: Delivery, tp: TopicPartition, offset: int) -> None:
        self.held += 1
        task = self.dispatcher.hold(delivery, lambda: self.tracker.settled(tp, offset))
        task.add_done_callback(self.release)

    def release(self, _: object) -> None:
        self.held -= 1

    async def run(self, handle: Handler, stop: asyncio.Event) -> None:
        await self.consumer.start()
        committer = asyncio.create_task(self.commit_every(stop))
        limit = self.dispatcher.settings.webhooks.max_in_flight
        try:
            while not stop.is_set():
                self.throttle(limit)
                polled = await self.consumer.getmany(timeout_ms=200, max_records=500)
                for tp, records in polled.items():
                    for record in records:
                        await handle(tp, record)
        finally:
            await committer
            await self.commit()
            await self.consumer.stop()

    def throttle(self, limit: int) -> None:
        held = self.held
        assigned = self.consumer.assignment()
        if held >= limit and not self.paused:
            log.info("%s paused: %d deliveries held", self.name, held)
            self.consumer.pause(*assigned)
            self.paused = True
        elif self.paused and held < limit // 2:
            self.consumer.resume(*assigned)
            self.paused = False

    async def commit_every(self, stop: asyncio.Event) -> None:
        interval = self.dispatcher.settings.webhooks.commit_interval_s
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), interval)
            except TimeoutError:
                await self.commit()

    async def commit(self) -> None:
        positions = self.tracker.positions(self.consumer.assignment())
        if not positions:
            return
        try:
            await self.consumer.commit(positions)
            self.tracker.committed_at(positions)
        except (CommitFailedError, IllegalStateError, KafkaError) as exc:
            log.info("%s commit skipped (%s); it is retried", self.name, exc)


class InputReader(Reader):
    async def handle(self, tp: TopicPartition, record: ConsumerRecord[Any, Any]) -> None:
        dispatcher = self.dispatcher
        dispatcher.metrics.input_records.labels(tp.topic).inc()
        dispatcher.counts[f"read {tp.topic}"] += 1
        intake = dispatcher.intake
        triggers = intake.triggers(tp.topic, record.value)
        now = utcnow()
        deliveries = intake.deliveries(triggers, dispatcher.store.all(), now) if triggers else []
        self.tracker.started(tp, record.offset, len(deliveries))
        for delivery in deliveries:
            self.hold(delivery, tp, record.offset)


class RetryReader(Reader):
    async def handle(self, tp: TopicPartition, record: ConsumerRecord[Any, Any]) -> None:
        try:
            delivery = Delivery.model_validate_json(record.value)
        except ValidationError as exc:
            log.warning("skipped a bad record on %s: %s", tp.topic, exc)
            self.tracker.started(tp, record.offset, 0)
            return
        self.tracker.started(tp, record.offset, 1)
        self.hold(delivery, tp, record.offset)


def positioned_reader(dispatcher: Dispatcher) -> AIOKafkaConsumer:
    """A reader without a group: its positions live in the state, beside what it read."""
    return AIOKafkaConsumer(
        **client_options(dispatcher.settings),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **consumer_timing(dispatcher.settings),
    )


async def resume(consumer: AIOKafkaConsumer, dispatcher: Dispatcher, topic: str) -> None:
    """Start ``consumer`` on every partition of ``topic`` at the positions in the state."""
    await consumer.start()
    tps = await topic_partitions(dispatcher.settings, topic)
    consumer.assign(tps)
    for tp in tps:
        position = dispatcher.state.position(topic, tp.partition)
        if position is None:
            await consumer.seek_to_beginning(tp)
        else:
            consumer.seek(tp, position)


async def follow_profiles(dispatcher: Dispatcher, stop: asyncio.Event) -> None:
    """Keep the latest snapshot of every profile, resuming at the stored positions."""
    settings = dispatcher.settings
    topic = settings.topics.profiles
    state = dispatcher.state
    consumer = positioned_reader(dispatcher)
    try:
        await resume(consumer, dispatcher, topic)
        while not stop.is_set():
            polled = await consumer.getmany(timeout_ms=200, max_records=2000)
            snapshots: list[tuple[str, bytes | None]] = []
            positions: dict[tuple[str, int], int] = {}
            for tp, records in polled.items():
                for record in records:
                    if record.key is None:
                        continue
                    snapshot_key = record.key.decode(errors="replace")
                    if record.value is None or not state.is_erased_key(snapshot_key):
                        snapshots.append((snapshot_key, record.value))
                positions[(tp.topic, tp.partition)] = records[-1].offset + 1
            if positions:
                state.put_profiles(snapshots, positions)
    finally:
        await consumer.stop()
