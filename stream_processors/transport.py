"""Faust's Kafka transport with a configurable fetch wait and no silent holes.

Faust's aiokafka driver fixes ``fetch_max_wait_ms`` at 1,500 ms. A broker that holds a fetch
until that wait is over even when records arrive meanwhile (the local Tansu broker does) then
adds up to 1.5 s per hop, and an event makes two hops (events → identity agent →
events.identified → profile agent). This transport sets the worker's own wait instead.

Faust also counts a hole between two delivered offsets as done (for compacted topics). The
worker's source topics are never compacted: a hole there is messages the consumer skipped
(see :mod:`stream_processors.continuity`), so it is not committed until they are processed,
or until :meth:`accept_hole` gives up on them.
"""

from __future__ import annotations

from typing import Any

import faust
from faust.transport.drivers import aiokafka as driver
from faust.types import TP


def transport_class(fetch_max_wait_ms: int, gapless: frozenset[str]) -> type[driver.Transport]:
    """A Faust Kafka transport whose worker consumer waits at most ``fetch_max_wait_ms``
    and never commits past a hole in the ``gapless`` topics."""

    class Thread(driver.AIOKafkaConsumerThread):
        def _create_worker_consumer(self, transport: Any) -> Any:
            consumer = super()._create_worker_consumer(transport)
            consumer._fetch_max_wait_ms = fetch_max_wait_ms  # read when the consumer starts
            return consumer

    class Consumer(driver.Consumer):
        def _new_consumer_thread(self) -> Thread:
            return Thread(self, loop=self.loop, beacon=self.beacon)

        async def _add_gap(self, tp: TP, offset_from: int, offset_to: int) -> None:
            if tp.topic not in gapless:
                await super()._add_gap(tp, offset_from, offset_to)

        async def accept_hole(self, tp: TP, offset_from: int, offset_to: int) -> None:
            """Count offsets ``[offset_from, offset_to)`` as done: they are gone."""
            if offset_to > offset_from:
                await super()._add_gap(tp, offset_from, offset_to - 1)  # Faust's end is inclusive

    class Transport(driver.Transport):
        pass

    Transport.Consumer = Consumer
    return Transport


class WorkerApp(faust.App):
    """A Faust app whose consumer uses :func:`transport_class`."""

    fetch_max_wait_ms = 1500
    gapless_topics: frozenset[str] = frozenset()

    def _new_transport(self) -> Any:
        transport = transport_class(self.fetch_max_wait_ms, self.gapless_topics)
        return transport(self.conf.broker_consumer, self)
