"""Faust's Kafka transport with a configurable fetch wait.

Faust's aiokafka driver fixes ``fetch_max_wait_ms`` at 1,500 ms. A broker that holds a fetch
until that wait is over even when records arrive meanwhile (the local Tansu broker does) then
adds up to 1.5 s per hop, and an event makes two hops (events → identity agent →
events.identified → profile agent). This transport sets the worker's own wait instead.
"""

from __future__ import annotations

from typing import Any

import faust
from faust.transport.drivers import aiokafka as driver


def transport_class(fetch_max_wait_ms: int) -> type[driver.Transport]:
    """A Faust Kafka transport whose worker consumer waits at most ``fetch_max_wait_ms``."""

    class Thread(driver.AIOKafkaConsumerThread):
        def _create_worker_consumer(self, transport: Any) -> Any:
            consumer = super()._create_worker_consumer(transport)
            consumer._fetch_max_wait_ms = fetch_max_wait_ms  # read when the consumer starts
            return consumer

    class Consumer(driver.Consumer):
        def _new_consumer_thread(self) -> Thread:
            return Thread(self, loop=self.loop, beacon=self.beacon)

    class Transport(driver.Transport):
        pass

    Transport.Consumer = Consumer
    return Transport


class WorkerApp(faust.App):
    """A Faust app whose consumer uses :func:`transport_class`'s fetch wait."""

    fetch_max_wait_ms = 1500

    def _new_transport(self) -> Any:
        transport = transport_class(self.fetch_max_wait_ms)
        return transport(self.conf.broker_consumer, self)
