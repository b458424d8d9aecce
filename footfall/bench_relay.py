"""A bare Faust agent for ``footfall bench processors``: the Faust floor in the same run.

It consumes the events topic and, per event, hands one record to the producer (as the
worker's identity agent does), with the worker's Faust settings and no logic; it prints
``RELAY <events/s>`` once it has seen ``FOOTFALL_RELAY_EVENTS`` events and exits. Timed from
its first event, like the worker. Run as ``python -m footfall.bench_relay``.
"""

from __future__ import annotations

import os
import time
from typing import Any

import faust

from footfall.bench_processors import relay_topic
from stream_processors.settings import WorkerSettings
from stream_processors.transport import credentials


def build_relay(settings: WorkerSettings, expected: int) -> faust.App:
    app = faust.App(
        f"{settings.app_id}-relay",
        broker=f"kafka://{settings.kafka_bootstrap_servers}",
        broker_credentials=credentials(settings),
        store="memory://",
        datadir=str(settings.data_dir),
        topic_partitions=settings.partitions,
        producer_max_batch_size=settings.producer_batch_limit,
        producer_acks=-1,
        consumer_auto_offset_reset="earliest",
        key_serializer="raw",
        value_serializer="raw",
        web_enabled=False,
    )
    source = app.topic(settings.topics.events, partitions=settings.partitions)
    target = relay_topic(settings)
    seen: dict[str, Any] = {"count": 0, "started": None}

    @app.agent(source)
    async def relay(stream: faust.StreamT[bytes]) -> None:
        async for record in stream.events():
            seen["started"] = seen["started"] or time.monotonic()
            await app.producer.send(target, record.key, record.value, None, None, None)
            seen["count"] += 1
            if seen["count"] == expected:
                rate = expected / (time.monotonic() - seen["started"])
                print(f"RELAY {rate:.0f}", flush=True)
                os._exit(0)  # the figure is out; nothing of this run is worth a clean stop

    return app


def main() -> None:
    settings = WorkerSettings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app = build_relay(settings, int(os.environ["FOOTFALL_RELAY_EVENTS"]))
    worker = faust.Worker(app, loglevel="WARNING", quiet=True)
    worker.spinner = None
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()
