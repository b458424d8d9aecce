"""The worker never commits an offset past a message it has not processed.

The contract is checked on the consumer class the worker runs
(``transport_class(...).Consumer``), through Faust's own acknowledgement and commit path and
its two stream iterators (the compiled one the worker runs, and the Python one Faust falls
back on), in the cases that broke it:

- a rewind: messages 51..103 skipped by the consumer, 104 and 105 handed over (the agent
  passes over them, Faust acknowledges them), the agent rewinding to 51. Faust counted the
  hole and the two messages passed over as done and committed 106 while 51..105 were being
  read again; a ``kill -9`` then lost them.
- a rebalance that gives the partition back, committed at 51: messages fetched before it
  reach the stream after it, which skips them (another generation) and, in Python,
  acknowledges them. Faust committed 81 while 51..80 had not been read again; from 52 too,
  as its check on the first acknowledged offset is off by one (52 - 51 is not "a gap").

First without a broker, the consumer driven message by message; then on both brokers, the
group's committed offset read from the broker while Faust's own fetch loop, stream and
rebalance run an agent through the same cases.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faust.streams
import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from faust.events import Event
from faust.types import TP
from faust.types.tuples import ConsumerMessage

from base.config import BrokerKind
from footfall.brokers import start_broker
from stream_processors.continuity import Continuity
from stream_processors.transport import WorkerApp
from tests.conftest import BOTH_BROKERS

SOURCE = "contract.source"
PARTITION = TP(SOURCE, 0)
MARKER = "contract.marker"
"""A topic nobody acknowledges: its messages tell when the agent has had its turn."""
END = 106
"""Offsets 0..105 are in the partition."""
SKIPPED = range(51, 104)
STALE_END = 81
"""Fetched before the rebalance: up to 80."""

ITERATORS = pytest.mark.parametrize("iterator", ["compiled", "python"])
"""Faust's two stream iterators: the compiled one (``faust._cython``), which the worker
runs, and the pure-Python one (Faust without its extension)."""


def in_order_position(processed: set[int], start: int) -> int:
    """The first offset from ``start`` not processed: no commit may pass it."""
    return min(set(range(start, END + 1)) - processed)


def message(topic: str, offset: int, generation: int) -> ConsumerMessage:
    tp = TP(topic, 0)
    return ConsumerMessage(
        topic, 0, offset, 0.0, 0, [], b"k", b"v", None, 1, 1, tp, generation_id=generation
    )


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

    async def seek_to_committed(self) -> dict[TP, int]:
        return {PARTITION: self.committed[-1]} if self.committed else {}


class Worker:
    """The worker's consumer with what drives it for one partition: Faust's fetch loop,
    a Faust stream over the agent's channel, the agent's continuity guard, and what the
    worker does when partitions move."""

    def __init__(self, app: Any, client: KafkaClient, iterator: str) -> None:
        self.app = app
        self.consumer: Any = app.consumer
        self.client = client
        self.guard = Continuity()
        self.processed: set[int] = set()
        self.since_assignment: set[int] = set()
        self.assigned_at = 0
        """The committed offset when the partition was last assigned."""
        self.committing = True
        """Faust's commit timer fires at every turn (or not at all)."""
        self.channel: Any = app.channel()
        self.stream: Any = self.channel.stream()
        values = self.stream._c_aiter() if iterator == "compiled" else self.stream._py_aiter()
        self.turns: asyncio.Queue[None] = asyncio.Queue()
        self.agent = asyncio.create_task(self.run(values))

    @classmethod
    async def start(cls, iterator: str) -> Worker:
        app = WorkerApp("contract", broker="kafka://127.0.0.1:9", store="memory://")
        app.gapless_topics = frozenset({SOURCE})
        conductor: Any = app.topics
        conductor.add(app.topic(SOURCE, partitions=1))
        await conductor._update_indices()  # acknowledged, as when an agent subscribes
        client = KafkaClient()
        consumer: Any = app.consumer
        consumer._thread = client
        worker = cls(app, client, iterator)
        # The app's rebalance callbacks: what the worker does (``partitions_moved``).
        consumer._on_partitions_revoked = worker.partitions_moved
        consumer._on_partitions_assigned = worker.partitions_moved
        app.flow_control.resume()
        return worker

    async def stop(self) -> None:
        self.agent.cancel()

    def committed(self) -> int | None:
        return self.client.committed[-1] if self.client.committed else None

    async def commit(self) -> None:
        """Faust's commit timer firing: whatever it commits stays below the first message
        the agent has not processed in order since the partition was assigned."""
        if not self.committing:
            return
        await self.consumer.commit()
        committed = self.committed()
        first = in_order_position(self.since_assignment, self.assigned_at)
        assert committed is None or committed <= first, (
            f"committed {committed} while {first} is not processed"
        )

    async def run(self, values: AsyncIterator[Any]) -> None:
        """The agent: the stream hands over each event (or skips it) and acknowledges it
        when the agent asks for the next one."""
        async for _ in values:
            event = self.stream.current_event
            if event.message.topic == MARKER:
                await self.commit()  # between two messages
                self.turns.put_nowait(None)
            else:
                await self.take(event.message.offset)

    async def take(self, offset: int) -> None:
        """The agent's turn: the guard's verdict, followed by the consumer; the message
        processed or passed over, a commit meanwhile."""
        committed = self.consumer.committed(PARTITION)
        verdict = self.guard.check(PARTITION, offset, time.monotonic(), committed)
        await self.consumer.follow(PARTITION, verdict)
        await self.commit()  # while the message is being processed
        if verdict.deliver:
            self.processed.add(offset)
            self.since_assignment.add(offset)

    async def hand_over(self, offset: int, generation: int) -> None:
        """Faust's conductor putting the message into the agent's channel; the agent's
        turn is over when the stream has handed over the next one, a marker."""
        current = self.app.consumer_generation_id
        await self.channel.put(Event(self.app, b"k", b"v", {}, message(SOURCE, offset, generation)))
        await self.channel.put(Event(self.app, b"k", b"v", {}, message(MARKER, offset, current)))
        await self.turn()

    async def turn(self) -> None:
        """Wait for the agent's turn; what stopped the agent (a commit too far) is raised."""
        turn = asyncio.ensure_future(self.turns.get())
        await asyncio.wait({turn, self.agent}, timeout=5, return_when=asyncio.FIRST_COMPLETED)
        if not turn.done():
            turn.cancel()
            if self.agent.done():
                self.agent.result()
            raise TimeoutError("the agent took no turn")

    async def fetch(self, offsets: Iterable[int], generation: int | None = None) -> None:
        """Records arriving from the broker, as Faust's fetch loop (``_drain_messages``)
        hands them over: below the read offset dropped, a jump counted as a gap. Records
        fetched before a rebalance carry its ``generation``."""
        read_offsets = self.consumer._read_offset
        for offset in offsets:
            read = read_offsets[PARTITION]
            if read is not None and offset < read:
                continue
            if read and offset - read > 1:
                await self.consumer._add_gap(PARTITION, read + 1, offset)
            current = self.app.consumer_generation_id
            await self.hand_over(offset, current if generation is None else generation)
            read_offsets[PARTITION] = offset

    async def partitions_moved(self, *_: Any) -> None:
        self.guard.forget()
        self.consumer.forget_rewinds()

    async def rebalance(self) -> int:
        """A rebalance that gives the partition back, as Faust's consumer goes through it:
        its books of the partition dropped, a new generation, then reading from the
        group's committed offset. Returns the generation before it."""
        old: int = self.app.consumer_generation_id
        self.app.on_rebalance_start()
        await self.consumer.on_partitions_revoked({PARTITION})
        self.app.consumer_generation_id = old + 1
        await self.consumer.on_partitions_assigned({PARTITION}, old + 1)
        await self.consumer.perform_seek()
        self.app.on_rebalance_end()
        self.assigned_at = self.committed() or 0
        self.since_assignment.clear()
        return old


def drive(iterator: str, script: Callable[[Worker], Coroutine[Any, Any, None]]) -> Worker:
    async def main() -> Worker:
        worker = await Worker.start(iterator)
        try:
            await script(worker)
        finally:
            await worker.stop()
        return worker

    return asyncio.run(main())


@ITERATORS
def test_in_normal_flow_each_commit_reaches_the_last_message_processed(iterator: str) -> None:
    """The protocol changes nothing while the partition is read in order: a commit at
    every turn is one past the last message processed (no lag left at the end)."""

    async def script(worker: Worker) -> None:
        await worker.fetch(range(END))

    worker = drive(iterator, script)
    assert worker.client.committed == list(range(1, END + 1))


@ITERATORS
def test_no_commit_passes_a_message_read_again_after_a_rewind(iterator: str) -> None:
    async def script(worker: Worker) -> None:
        await worker.fetch(range(51))
        assert worker.committed() == 51
        await worker.fetch([104, 105])  # 51..103 skipped: the agent goes back for them
        assert worker.client.seeks == [51]
        assert worker.processed == set(range(51))
        await worker.fetch(range(51, END))  # read again, 104 and 105 with them

    worker = drive(iterator, script)
    assert worker.processed == set(range(END))
    assert worker.committed() == END  # every message processed: committed up to the end
    assert worker.client.committed == sorted(worker.client.committed)


@ITERATORS
@pytest.mark.parametrize("first_commit", [103, 105])
def test_acknowledgements_of_messages_passed_over_are_not_taken_for_their_processing(
    iterator: str, first_commit: int
) -> None:
    """Faust's books still hold 104 and 105 as acknowledged (from the pass-over) when
    the messages before them, then they themselves, are processed."""

    async def script(worker: Worker) -> None:
        await worker.fetch(range(51))
        worker.committing = False
        await worker.fetch([104, 105])
        await worker.fetch(range(51, first_commit))
        worker.committing = True
        await worker.fetch(range(first_commit, END))

    assert drive(iterator, script).committed() == END


@ITERATORS
def test_commits_go_on_while_the_partition_is_read_again(iterator: str) -> None:
    async def script(worker: Worker) -> None:
        await worker.fetch(range(51))
        await worker.fetch([104, 105])
        await worker.fetch(range(51, 80))

    # Not merely held: one past the last message processed.
    assert drive(iterator, script).client.committed[-1] == 80


@ITERATORS
@pytest.mark.parametrize("stale_from", [51, 52])
def test_no_commit_passes_messages_fetched_before_a_rebalance_and_skipped_after(
    iterator: str, stale_from: int
) -> None:
    """Committed at 51, the partition revoked and given back to the same consumer.
    Fetched before the rebalance, ``stale_from``..80 reach the stream after it; the
    stream skips them and Faust's Python iterator acknowledges them (52..80: 51's hand-over
    was cut short). Reading from 51 again, the fetch loop drops what it has seen and
    hands over 80: the agent goes back to 51."""

    async def script(worker: Worker) -> None:
        await worker.fetch(range(51))
        assert worker.committed() == 51
        before = await worker.rebalance()
        await worker.fetch(range(stale_from, STALE_END), generation=before)
        await worker.fetch(range(51, STALE_END + 1))  # 51..79 dropped, 80 and 81 taken
        assert worker.client.seeks == [51]
        await worker.fetch(range(51, END))

    worker = drive(iterator, script)
    assert worker.processed == set(range(END))
    assert worker.since_assignment == set(range(51, END))
    assert worker.committed() == END
    assert worker.client.committed == sorted(worker.client.committed)


@ITERATORS
@pytest.mark.parametrize("stale_from", [51, 52])
def test_after_an_assignment_nothing_passes_the_committed_message_until_it_is_processed(
    iterator: str, stale_from: int
) -> None:
    """Committed at 51, Faust's books hold ``stale_from``..80 (handed over to the stream
    before the rebalance, past the fetch loop, skipped after it) when the agent takes 51:
    while it processes 51 nothing is committed, then one past it, and so on."""

    async def script(worker: Worker) -> None:
        await worker.fetch(range(51))
        before = await worker.rebalance()
        worker.committing = False
        for offset in range(stale_from, STALE_END):
            await worker.hand_over(offset, before)
        worker.committing = True
        await worker.fetch(range(51, END))  # from the committed offset

    worker = drive(iterator, script)
    assert worker.client.committed[50:53] == [51, 52, 53]
    assert worker.committed() == END


@dataclass
class Run:
    """What happened to the partition on the broker, and every committed offset seen."""

    processed: set[int] = field(default_factory=set)
    passed_over: list[int] = field(default_factory=list)
    rewinds: list[int] = field(default_factory=list)
    commits: list[tuple[int, int]] = field(default_factory=list)
    """(offset committed, first unprocessed offset) at each of the consumer's commits."""
    seen: list[tuple[int, int]] = field(default_factory=list)
    """(the group's offset on the broker, first unprocessed offset when it was read)."""
    rebalances: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def first_unprocessed(self) -> int:
        return in_order_position(self.processed, 0)

    def assert_no_commit_passed_a_message_not_processed(self) -> None:
        assert [s for s in self.seen if s[0] > s[1]] == []  # as the broker keeps it
        assert [c for c in self.commits if c[0] > c[1]] == []  # every commit the consumer made


Wrap = Callable[[Any, Run], Any]
"""Makes the consumer class a test runs from the worker's."""


def recording(consumer_class: Any, run: Run) -> Any:
    """The worker's consumer, each commit it makes recorded with the first unprocessed
    offset at that moment."""

    class Consumer(consumer_class):  # type: ignore[misc]
        async def _commit(self, offsets: Mapping[TP, int]) -> bool:
            if PARTITION in offsets:
                run.commits.append((offsets[PARTITION], run.first_unprocessed()))
            done: bool = await super()._commit(offsets)
            return done

    return Consumer


def losing_its_place(consumer_class: Any, run: Run) -> Any:
    """The worker's consumer, losing its place once as Faust's does around a rebalance:
    51..103 are fetched but never handed over, then fetching goes on after them."""

    class Consumer(recording(consumer_class, run)):  # type: ignore[misc]
        async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Any]]:
            async for tp, record in super().getmany(timeout):
                if not run.passed_over and record.offset in SKIPPED:
                    continue
                yield tp, record

    return Consumer


@dataclass
class Stale:
    """Records fetched before the rebalance that reach the stream after it."""

    held: list[tuple[TP, Any]] = field(default_factory=list)
    fetched: asyncio.Event = field(default_factory=asyncio.Event)
    generation: int | None = None


def fetching_across_a_rebalance(consumer_class: Any, run: Run, stale: Stale) -> Any:
    """The worker's consumer, as Faust's is when a rebalance comes while records are on
    their way to the stream: 52..80 are fetched before it and handed over after it (51's
    hand-over cut short), before anything fetched after it; the commit timer fires
    meanwhile. Anything else from 51 on is fetched again after the rebalance."""

    class Consumer(recording(consumer_class, run)):  # type: ignore[misc]
        async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Any]]:
            async for tp, record in super().getmany(timeout):
                if stale.generation is None:
                    stale.generation = record.generation_id
                if record.generation_id == stale.generation:
                    if 52 <= record.offset < STALE_END:
                        stale.held.append((tp, record))
                        if record.offset == STALE_END - 1:
                            stale.fetched.set()
                    if record.offset >= 51:
                        continue
                elif stale.held:
                    for held in stale.held:
                        yield held
                    stale.held.clear()
                    await asyncio.sleep(0.5)  # ten commit intervals
                yield tp, record

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


async def watch_group(bootstrap: str, group: str, run: Run) -> None:
    """The group's committed offset as the broker keeps it, read every 20 ms."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        partition = TopicPartition(SOURCE, 0)
        while True:
            answer = await admin.list_consumer_group_offsets(group, partitions=[partition])
            # Read after the answer: the offset was committed when no more was processed.
            run.seen.append((answer[partition].offset, run.first_unprocessed()))
            await asyncio.sleep(0.02)
    finally:
        await admin.close()


def guarded_app(
    group: str, bootstrap: str, kind: BrokerKind, data_dir: Path, wrap: Wrap
) -> tuple[Any, Run]:
    """A Faust app on the worker's transport, its consumer class wrapped by ``wrap``, its
    agent guarded as the worker's are and forgetting as they do when partitions move;
    commits every 50 ms, each message taking 10 ms."""
    run = Run()

    class App(WorkerApp):
        def _new_transport(self) -> Any:
            transport = super()._new_transport()
            transport.Consumer = wrap(transport.Consumer, run)
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
                run.rewinds.append(verdict.rewind_to)
            if not verdict.deliver:
                run.passed_over.append(offset)
                continue
            await asyncio.sleep(0.01)
            run.processed.add(offset)
            if len(run.processed) == END:
                run.done.set()

    async def partitions_moved(*_: Any, **__: Any) -> None:
        guard.forget()
        app.consumer.forget_rewinds()  # type: ignore[attr-defined]

    app.on_partitions_revoked.connect(partitions_moved)
    app.on_partitions_assigned.connect(partitions_moved)
    app.on_rebalance_complete.connect(partitions_moved)
    return app, run


async def on_broker(
    bootstrap: str,
    kind: BrokerKind,
    data_dir: Path,
    wrap: Wrap,
    meanwhile: Callable[[Any, Run], Coroutine[Any, Any, None]] | None = None,
) -> Run:
    """Produce the partition, run the guarded app until every message is processed (at
    most 20 s), watching the group's committed offset; ``meanwhile`` runs beside it."""
    await produce(bootstrap)
    group = f"contract-{uuid.uuid4().hex[:8]}"
    app, run = guarded_app(group, bootstrap, kind, data_dir, wrap)
    await app.start()
    tasks = [asyncio.create_task(watch_group(bootstrap, group, run))]
    if meanwhile is not None:
        tasks.append(asyncio.create_task(meanwhile(app, run)))
    try:
        with contextlib.suppress(TimeoutError):  # the assertions say what is missing
            await asyncio.wait_for(run.done.wait(), 20)
        deadline = time.monotonic() + 10
        while run.done.is_set() and time.monotonic() < deadline:
            if run.seen and run.seen[-1][0] >= END:
                break
            await asyncio.sleep(0.05)
    finally:
        for task in tasks:
            task.cancel()
        await app.stop()
    return run


@pytest.mark.integration
@pytest.mark.timeout(60)
@BOTH_BROKERS
def test_the_group_never_commits_past_a_message_read_again(
    tmp_path: Path, any_broker: BrokerKind
) -> None:
    with start_broker(any_broker, tmp_path) as broker:
        run = asyncio.run(
            on_broker(
                broker.bootstrap,
                any_broker,
                tmp_path / "faust",
                losing_its_place,
            )
        )
    assert run.rewinds == [51]
    assert run.passed_over[0] == 104  # 51..103 skipped, then read again
    assert run.processed == set(range(END))
    run.assert_no_commit_passed_a_message_not_processed()
    assert run.seen[-1][0] == END
    print(
        f"{any_broker.value}: passed over {run.passed_over}, {len(run.commits)} commits, "
        f"the group read {len(run.seen)} times"
    )


async def rebalance_once(app: Any, run: Run, stale: Stale) -> None:
    """Once 0..50 are processed and committed and 52..80 fetched, the consumer rejoins
    its group: a real rebalance, the partition given back to it."""
    consumer: Any = app.consumer
    await stale.fetched.wait()
    while run.processed != set(range(51)) or consumer.committed(PARTITION) != 51:
        await asyncio.sleep(0.02)
    thread = consumer._thread
    coordinator = thread._ensure_consumer()._coordinator
    thread.thread_loop.call_soon_threadsafe(coordinator.request_rejoin)
    generation = app.consumer_generation_id
    while app.consumer_generation_id == generation:
        await asyncio.sleep(0.02)
    run.rebalances += 1


@pytest.mark.integration
@pytest.mark.timeout(60)
@BOTH_BROKERS
def test_the_group_never_commits_past_a_message_fetched_before_a_rebalance(
    tmp_path: Path, any_broker: BrokerKind, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On Faust's Python stream iterator, the one that acknowledges the messages it skips
    after a rebalance (the compiled one does not; both run in the tests without a broker)."""
    monkeypatch.setattr(faust.streams, "_CStreamIterator", None)
    stale = Stale()
    with start_broker(any_broker, tmp_path) as broker:
        run = asyncio.run(
            on_broker(
                broker.bootstrap,
                any_broker,
                tmp_path / "faust",
                lambda cls, run: fetching_across_a_rebalance(cls, run, stale),
                lambda app, run: rebalance_once(app, run, stale),
            )
        )
    assert run.rebalances == 1
    assert stale.held == []  # handed over after the rebalance
    run.assert_no_commit_passed_a_message_not_processed()
    assert run.processed == set(range(END))
    assert run.seen[-1][0] == END
    committed = sorted({offset for offset, _ in run.commits})
    print(
        f"{any_broker.value}, Python iterator: rewinds {run.rewinds}, passed over "
        f"{run.passed_over[:3]}..., {len(run.commits)} commits: {committed[:8]}..."
    )
