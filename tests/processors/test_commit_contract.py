"""The worker never commits an offset past a message it has not processed.

The contract is checked on the consumer class the worker runs
(``transport_class(...).Consumer``), through Faust's own acknowledgement and commit path, in
the case that broke it: messages 51..103 skipped by the consumer, 104 and 105 handed over
(the agent passes over them, Faust acknowledges them), the agent rewinding to 51. Faust
counted the hole and the two messages passed over as done and committed 106 while 51..105
were being read again; a ``kill -9`` then lost them. First without a broker, the consumer
driven message by message; then on both brokers, the group's committed offset read from the
broker while Faust's own fetch loop and stream run an agent through the same rewind.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from faust.types import TP
from faust.types.tuples import ConsumerMessage

from footfall.brokers import start_broker
from footfall.config import BrokerKind
from stream_processors.continuity import Continuity
from stream_processors.transport import WorkerApp
from tests.conftest import BOTH_BROKERS

SOURCE = "contract.source"
PARTITION = TP(SOURCE, 0)
END = 106
"""Offsets 0..105 are in the partition."""
SKIPPED = range(51, 104)


def first_unprocessed(processed: set[int]) -> int:
    return min(set(range(END + 1)) - processed)


class KafkaClient:
    """Stands in for the consumer's thread, Faust's handle on the aiokafka client: it
    records the seeks and the offsets committed, as the broker would keep them."""

    def __init__(self) -> None:
        self.seeks: list[int] = []
        self.committed: list[int] = []

    def seek(self, tp: TP, offset: int) -> None:
        self.seeks.append(offset)

    def assignment(self) -> set[TP]:
        return {PARTITION}

    async def commit(self, offsets: Mapping[TP, int]) -> bool:
        self.committed.append(offsets[PARTITION])
        return True


class Worker:
    """The worker's consumer with what drives it for one partition: Faust's fetch loop,
    the agent's continuity guard, and Faust's stream acknowledging each message."""

    def __init__(self, consumer: Any, client: KafkaClient) -> None:
        self.consumer = consumer
        self.client = client
        self.guard = Continuity()
        self.processed: set[int] = set()
        self.committing = True
        """Faust's commit timer fires at every turn (or not at all)."""

    @classmethod
    async def start(cls) -> Worker:
        app = WorkerApp("contract", broker="kafka://127.0.0.1:9", store="memory://")
        app.gapless_topics = frozenset({SOURCE})
        conductor: Any = app.topics
        conductor.add(app.topic(SOURCE, partitions=1))
        await conductor._update_indices()  # acknowledged, as when an agent subscribes
        client = KafkaClient()
        consumer: Any = app.consumer
        consumer._thread = client
        return cls(consumer, client)

    def committed(self) -> int | None:
        return self.client.committed[-1] if self.client.committed else None

    async def commit(self) -> None:
        """Faust's commit timer firing: whatever it commits stays below the first
        message not processed."""
        if not self.committing:
            return
        await self.consumer.commit()
        committed, first = self.committed(), first_unprocessed(self.processed)
        assert committed is None or committed <= first, (
            f"committed {committed} while {first} is not processed"
        )

    async def fetch(self, offsets: Iterable[int]) -> None:
        """Records arriving from the broker, as Faust's fetch loop (``_drain_messages``)
        hands them over: below the read offset dropped, a jump counted as a gap."""
        read_offsets = self.consumer._read_offset
        for offset in offsets:
            read = read_offsets[PARTITION]
            if read is not None and offset < read:
                continue
            if read and offset - read > 1:
                await self.consumer._add_gap(PARTITION, read + 1, offset)
            await self.take(offset)
            read_offsets[PARTITION] = offset

    async def take(self, offset: int) -> None:
        """The agent's turn: the guard's verdict, followed by the consumer; the message
        processed or passed over, a commit meanwhile, then Faust's acknowledgement (its
        Python stream calls ``Consumer.ack``; its Cython one writes the same books itself)."""
        message = ConsumerMessage(SOURCE, 0, offset, 0.0, 0, [], b"k", b"v", None, 1, 1, PARTITION)
        committed = self.consumer.committed(PARTITION)
        verdict = self.guard.check(PARTITION, offset, time.monotonic(), committed)
        await self.consumer.follow(PARTITION, verdict)
        await self.commit()  # while the message is being processed
        if verdict.deliver:
            self.processed.add(offset)
        self.consumer.ack(message)
        await self.commit()


def test_no_commit_passes_a_message_read_again_after_a_rewind() -> None:
    async def run() -> Worker:
        worker = await Worker.start()
        await worker.fetch(range(51))
        assert worker.committed() == 51
        await worker.fetch([104, 105])  # 51..103 skipped: the agent goes back for them
        assert worker.client.seeks == [51]
        assert worker.processed == set(range(51))
        await worker.fetch(range(51, END))  # read again, 104 and 105 with them
        return worker

    worker = asyncio.run(run())
    assert worker.processed == set(range(END))
    assert worker.committed() == END  # every message processed: committed up to the end
    assert worker.client.committed == sorted(worker.client.committed)


@pytest.mark.parametrize("first_commit", [103, 105])
def test_acknowledgements_of_messages_passed_over_are_not_taken_for_their_processing(
    first_commit: int,
) -> None:
    """Faust's books still hold 104 and 105 as acknowledged (from the pass-over) when
    the messages before them, then they themselves, are processed."""

    async def run() -> Worker:
        worker = await Worker.start()
        await worker.fetch(range(51))
        worker.committing = False
        await worker.fetch([104, 105])
        await worker.fetch(range(51, first_commit))
        worker.committing = True
        await worker.fetch(range(first_commit, END))
        return worker

    worker = asyncio.run(run())
    assert worker.committed() == END


def test_commits_go_on_while_the_partition_is_read_again() -> None:
    async def run() -> list[int]:
        worker = await Worker.start()
        await worker.fetch(range(51))
        await worker.fetch([104, 105])
        await worker.fetch(range(51, 80))
        return worker.client.committed

    committed = asyncio.run(run())
    # Not merely held: up to the last message taken (79, processed; its commit waits for
    # the next one to be taken).
    assert committed[-1] == 79


@dataclass
class Rewind:
    """What happened to the partition on the broker, and every committed offset seen."""

    processed: set[int] = field(default_factory=set)
    passed_over: list[int] = field(default_factory=list)
    rewinds: list[int] = field(default_factory=list)
    commits: list[tuple[int, int]] = field(default_factory=list)
    """(offset committed, first unprocessed offset) at each of the consumer's commits."""
    seen: list[tuple[int, int]] = field(default_factory=list)
    """(the group's offset on the broker, first unprocessed offset when it was read)."""
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def first_unprocessed(self) -> int:
        return first_unprocessed(self.processed)


def losing_its_place(consumer_class: Any, rewind: Rewind) -> Any:
    """The worker's consumer, losing its place once as Faust's does around a rebalance:
    51..103 are fetched but never handed over, then fetching goes on after them."""

    class Consumer(consumer_class):  # type: ignore[misc]
        async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Any]]:
            async for tp, message in super().getmany(timeout):
                if not rewind.passed_over and message.offset in SKIPPED:
                    continue
                yield tp, message

        async def _commit(self, offsets: Mapping[TP, int]) -> bool:
            rewind.commits.append((offsets[PARTITION], rewind.first_unprocessed()))
            done: bool = await super()._commit(offsets)
            return done

    return Consumer


async def produce(bootstrap: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(SOURCE, 1, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for offset in range(END):
            await producer.send_and_wait(SOURCE, str(offset).encode(), partition=0)
    finally:
        await producer.stop()


async def watch_group(bootstrap: str, group: str, rewind: Rewind) -> None:
    """The group's committed offset as the broker keeps it, read every 20 ms."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        partition = TopicPartition(SOURCE, 0)
        while True:
            answer = await admin.list_consumer_group_offsets(group, partitions=[partition])
            # Read after the answer: the offset was committed when no more was processed.
            rewind.seen.append((answer[partition].offset, rewind.first_unprocessed()))
            await asyncio.sleep(0.02)
    finally:
        await admin.close()


async def rewind_on(bootstrap: str, kind: BrokerKind, data_dir: Path) -> Rewind:
    """A Faust app on the worker's transport, its agent guarded as the worker's are,
    through a rewind; commits every 50 ms, each message taking 10 ms."""
    await produce(bootstrap)
    rewind = Rewind()
    group = f"contract-{uuid.uuid4().hex[:8]}"

    class App(WorkerApp):
        def _new_transport(self) -> Any:
            transport = super()._new_transport()
            transport.Consumer = losing_its_place(transport.Consumer, rewind)
            return transport

    app = App(
        group,
        broker=f"kafka://{bootstrap}",
        store="memory://",
        datadir=str(data_dir),
        web_enabled=False,
        broker_commit_interval=0.05,
        broker_session_timeout=6.0,
        broker_heartbeat_interval=1.0,
        broker_rebalance_timeout=3.0,  # Tansu holds the first join for this long
        consumer_auto_offset_reset="earliest",
        key_serializer="raw",
        value_serializer="raw",
    )
    app.gapless_topics = frozenset({SOURCE})
    app.idempotent_producer = kind is BrokerKind.kafka
    guard = Continuity()

    @app.agent(app.topic(SOURCE, partitions=1))
    async def guarded(stream: Any) -> None:
        async for event in stream.events():
            tp, offset = event.message.tp, event.message.offset
            consumer: Any = app.consumer
            verdict = guard.check(tp, offset, time.monotonic(), consumer.committed(tp))
            await consumer.follow(tp, verdict)
            if verdict.rewind_to is not None:
                rewind.rewinds.append(verdict.rewind_to)
            if not verdict.deliver:
                rewind.passed_over.append(offset)
                continue
            await asyncio.sleep(0.01)
            rewind.processed.add(offset)
            if len(rewind.processed) == END:
                rewind.done.set()

    await app.start()
    watcher = asyncio.create_task(watch_group(bootstrap, group, rewind))
    try:
        await asyncio.wait_for(rewind.done.wait(), 30)
        deadline = time.monotonic() + 10
        while (not rewind.seen or rewind.seen[-1][0] < END) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    finally:
        watcher.cancel()
        await app.stop()
    return rewind


@pytest.mark.integration
@pytest.mark.timeout(90)
@BOTH_BROKERS
def test_the_group_never_commits_past_a_message_read_again(
    tmp_path: Path, any_broker: BrokerKind
) -> None:
    with start_broker(any_broker, tmp_path) as broker:
        rewind = asyncio.run(rewind_on(broker.bootstrap, any_broker, tmp_path / "faust"))
    assert rewind.rewinds == [51]
    assert rewind.passed_over[0] == 104  # 51..103 skipped, then read again
    assert rewind.processed == set(range(END))
    assert [s for s in rewind.seen if s[0] > s[1]] == []  # as the broker keeps it
    assert [c for c in rewind.commits if c[0] > c[1]] == []  # every commit the consumer made
    assert rewind.seen[-1][0] == END
    print(
        f"{any_broker.value}: passed over {rewind.passed_over}, {len(rewind.commits)} commits, "
        f"the group read {len(rewind.seen)} times"
    )
