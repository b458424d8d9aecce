"""Faust's Kafka transport with a configurable fetch wait and no silent holes.

Faust's aiokafka driver fixes ``fetch_max_wait_ms`` at 1,500 ms. A broker that holds a fetch
until that wait is over even when records arrive meanwhile (the local Tansu broker does) then
adds up to 1.5 s per hop, and an event makes two hops (events → identity agent →
events.identified → profile agent). This transport sets the worker's own wait instead.

Faust also counts a hole between two delivered offsets as done (for compacted topics), and
its books of acknowledged offsets hold messages the agent did not process (passed over
during a rewind; fetched before a rebalance and skipped after it). The worker's source
topics are never compacted: a hole there is messages the consumer skipped (see
:mod:`stream_processors.continuity`), so it is not counted until the agent gives up on it
(gone from the broker). Every verdict goes to the commit protocol
(:class:`~stream_processors.continuity.CommitOffsets`), which caps the offset Faust would
commit at the agent's place in the partition and drops the acknowledgement Faust holds for
a message the agent takes: no commit passes a message that was not processed.

The table store is Faust's RocksDB store with zstd-compressed blocks
(:class:`CompressedRocksDB`): Faust's rocksdict options leave compression at RocksDB's
default, and profiles are JSON that compresses well (1,451 → 959 bytes a profile of 50
events after compaction, measured on the demo simulator's shoppers).
"""

from __future__ import annotations

import asyncio
import weakref
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import faust
import faust.streams
import rocksdict
from faust.auth import SASLCredentials, SSLCredentials
from faust.stores import STORES
from faust.stores import rocksdb as faust_rocksdb
from faust.transport.drivers import aiokafka as driver
from faust.types import TP, EventT
from faust.types.auth import SASLMechanism
from faust.types.tuples import ack_lock

from base.config import FootfallSettings
from base.kafka import millis, tls_context
from stream_processors.continuity import CommitOffsets, Verdict


class ReadOffsets(defaultdict[TP, int | None]):
    """Faust's read position per partition (it drops messages below it), held at a rewind's
    start while the messages fetched before the rewind are still being handed over."""

    def __init__(self) -> None:
        super().__init__(lambda: None)
        self.rewinds: dict[TP, int] = {}

    def __setitem__(self, tp: TP, offset: int | None) -> None:
        start = self.rewinds.get(tp)
        if start is not None and offset is not None:
            if offset > start:
                return  # a message read before the rewind
            del self.rewinds[tp]
        super().__setitem__(tp, offset)

    def update(self, *args: Any, **kwargs: Any) -> None:
        self.rewinds.clear()  # seeking to the committed offsets after a rebalance
        super().update(*args, **kwargs)

    def rewind(self, tp: TP, offset: int) -> None:
        self.rewinds[tp] = offset
        super().__setitem__(tp, offset)

    def stop_rewind(self, tp: TP) -> None:
        self.rewinds.pop(tp, None)


def transport_class(
    fetch_max_wait_s: float, gapless: frozenset[str], idempotent: bool = True
) -> type[driver.Transport]:
    """A Faust Kafka transport whose worker consumer waits at most ``fetch_max_wait_s``
    and never commits past a hole in the ``gapless`` topics, and whose producer is
    idempotent (Faust turns idempotence on only inside transactions; Tansu has none)."""

    class Producer(driver.Producer):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.changelog_queued = 0
            self.changelog_sent = 0
            buffer: Any = self.buffer  # Faust's ProducerBuffer; its type omits the methods
            put, send = buffer.put, buffer._send_pending

            def counted_put(fut: Any) -> None:
                self.changelog_queued += 1
                put(fut)

            async def counted_send(fut: Any) -> None:
                await send(fut)
                self.changelog_sent += 1  # in order: the buffer sends one at a time

            buffer.put = counted_put
            buffer._send_pending = counted_send  # read by its sending task when it starts

        async def flush(self) -> None:
            """Faust's flush, with every table change made before it handed to the client.

            Faust queues a table's changelog records in a buffer of its own, and its flush
            gives up on that buffer after 0.1 s without a record sent (``flush_atmost``),
            leaving records in it. The consumer flushes right before it commits: under load
            the commit then passed messages whose table changes had not reached the client,
            and a ``kill -9`` lost them (the next owner of the partition recovered the table
            without them). Only the records queued before the flush are waited for, so a
            worker that keeps writing does not hold its commit back.
            """
            target = self.changelog_queued
            buffer: Any = self.buffer
            while self.changelog_sent < target:
                # Faust's own flush of the buffer runs until it is empty: not while the
                # agents keep writing. This returns after those records or a 0.1 s stall.
                await buffer.flush_atmost(target - self.changelog_sent)
                if self.changelog_sent < target:
                    await asyncio.sleep(0.001)  # the last record is being handed over
            if self._producer is not None:
                await self._producer.flush()  # the Kafka client's own batches

        def _settings_extra(self) -> Any:
            extra = dict(super()._settings_extra())
            if idempotent:
                extra |= {"acks": "all", "enable_idempotence": True}
            return extra

    class Thread(driver.AIOKafkaConsumerThread):
        def _create_worker_consumer(self, transport: Any) -> Any:
            consumer = super()._create_worker_consumer(transport)
            consumer._fetch_max_wait_ms = millis(fetch_max_wait_s)  # read when it starts
            return consumer

    class Consumer(driver.Consumer):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.read_offsets = ReadOffsets()
            self._read_offset = self.read_offsets
            self.commits = CommitOffsets()

        def _new_consumer_thread(self) -> Thread:
            return Thread(self, loop=self.loop, beacon=self.beacon)

        def committed(self, tp: TP) -> int | None:
            """The partition's committed offset as last read or written by this consumer."""
            return self._committed_offset.get(tp)

        async def follow(self, tp: TP, verdict: Verdict) -> None:
            """Act on a continuity verdict: the agent's place, a rewind, a hole accepted."""
            taken = self.commits.follow(tp, verdict)
            if taken is not None:
                self.drop_ack(tp, taken)  # from a pass-over, or from before a rebalance
            if verdict.rewind_to is not None:
                # Read again from there; what was fetched beyond it still comes first.
                self.read_offsets.rewind(tp, verdict.rewind_to)
                self._thread.seek(tp, verdict.rewind_to)
            if verdict.accepted_hole is not None:
                start, end = verdict.accepted_hole
                self.read_offsets.stop_rewind(tp)
                if end > start:  # count them as done: they are gone (Faust's end is inclusive)
                    await super()._add_gap(tp, start, end - 1)

        def hold(self, tp: TP, offset: int) -> None:
            """See :meth:`CommitOffsets.hold`."""
            self.commits.hold(tp, offset)

        def release(self) -> None:
            """See :meth:`CommitOffsets.release`."""
            self.commits.release()

        async def _add_gap(self, tp: TP, offset_from: int, offset_to: int) -> None:
            """Faust's fetch loop counting a jump in offsets as done: not on the ``gapless``
            topics, where it is messages skipped, read again (counted, they would be
            acknowledged twice), or given up on by the agent (:meth:`follow`)."""
            if tp.topic not in gapless:
                await super()._add_gap(tp, offset_from, offset_to)

        def drop_ack(self, tp: TP, offset: int) -> None:
            """Forget Faust's acknowledgement of ``offset``. Its stream acknowledges every
            message it handed over, those passed over too, and its Python iterator those it
            skipped after a rebalance (the compiled one writes ``_acked`` itself, never
            calling :meth:`ack`)."""
            index = self._acked_index.get(tp)
            if index is None or offset not in index:
                return  # the usual case: one set lookup (acknowledged on this loop only)
            with ack_lock:
                if offset in index:
                    index.discard(offset)
                    acked = self._acked[tp]
                    if offset in acked:
                        acked.remove(offset)

        def _new_offset(self, tp: TP) -> int | None:
            """The offset to commit for ``tp``: Faust's (the end of its first run of
            acknowledged offsets), on the ``gapless`` topics capped at the agent's place
            (:meth:`CommitOffsets.limit`, read before Faust forgets what it counted). What
            Faust counted beyond the cap is not processed yet: it is acknowledged again
            when it is."""
            if tp.topic not in gapless:
                return super()._new_offset(tp)
            limit = self.commits.limit(tp, self._acked_index.get(tp, ()))
            candidate = super()._new_offset(tp)
            return None if limit is None or candidate is None else min(candidate, limit)

        async def on_partitions_revoked(self, revoked: set[TP]) -> None:
            self.commits.forget(revoked)  # as Faust drops its books of them
            await super().on_partitions_revoked(revoked)

        async def on_partitions_assigned(self, assigned: set[TP], generation_id: int = 0) -> None:
            self.commits.forget(assigned)
            await super().on_partitions_assigned(assigned, generation_id)

        def forget_rewinds(self) -> None:
            """Partitions moved: nothing taken, reading resumes from the committed offsets."""
            self.commits.forget()
            self.read_offsets.rewinds.clear()

    class Transport(driver.Transport):
        pass

    Transport.Consumer = Consumer
    Transport.Producer = Producer
    return Transport


@contextmanager
def stream_event(event: EventT[Any]) -> Iterator[None]:
    """Make ``event`` Faust's current event in this task while the block runs.

    A Faust table writes a key's changelog record to the partition of the current event;
    Faust sets it for each message of ``stream.events()`` but not for the messages of a
    ``take_events`` batch, which the agent handles after they were buffered.
    """
    token = faust.streams._current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        faust.streams._current_event.reset(token)


class WorkerApp(faust.App):
    """A Faust app whose consumer uses :func:`transport_class`."""

    fetch_max_wait_s = 1.5
    gapless_topics: frozenset[str] = frozenset()
    idempotent_producer = True

    def _new_transport(self) -> Any:
        transport = transport_class(
            self.fetch_max_wait_s, self.gapless_topics, self.idempotent_producer
        )
        return transport(self.conf.broker_consumer, self)


def credentials(settings: FootfallSettings) -> Any:
    """Faust's form of the Kafka security settings (None for plaintext)."""
    if settings.kafka_uses_sasl:
        password = settings.kafka_sasl_password
        return SASLCredentials(
            username=settings.kafka_sasl_username,
            password=password.get_secret_value() if password else None,
            mechanism=SASLMechanism(settings.kafka_sasl_mechanism),
            ssl_context=tls_context(settings),
        )
    context = tls_context(settings)
    return SSLCredentials(context) if context is not None else None


class CompressedOptions(faust_rocksdb.RocksDBOptions):
    """Faust's RocksDB options, with zstd-compressed blocks (rocksdict driver)."""

    def as_options(self) -> Any:
        options = super().as_options()
        if self.use_rocksdict:
            options.set_compression_type(rocksdict.DBCompressionType.zstd())
            options.set_bottommost_compression_type(rocksdict.DBCompressionType.zstd())
        return options


class CompressedRocksDB(faust_rocksdb.Store):
    """Faust's RocksDB table store opened with :class:`CompressedOptions` (the files stay
    readable by Faust's own store: compression is per block and recorded in each file)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        plain = self.rocksdb_options
        self.rocksdb_options = CompressedOptions(
            max_open_files=plain.max_open_files,
            write_buffer_size=plain.write_buffer_size,
            max_write_buffer_number=plain.max_write_buffer_number,
            target_file_size_base=plain.target_file_size_base,
            block_cache_size=plain.block_cache_size,
            block_cache_compressed_size=plain.block_cache_compressed_size,
            bloom_filter_size=plain.bloom_filter_size,
            use_rocksdict=plain.use_rocksdict,
            ttl=plain.ttl,
            **plain.extra_options,
        )


COMPRESSED_STORE = "footfall-rocksdb"


def store_url(store: str) -> str:
    """The store URL Faust is given: ``rocksdb://…`` becomes the compressed store."""
    STORES.aliases.setdefault(COMPRESSED_STORE, f"{__name__}:CompressedRocksDB")
    scheme, sep, rest = store.partition("://")
    return f"{COMPRESSED_STORE}{sep}{rest}" if scheme == "rocksdb" else store
