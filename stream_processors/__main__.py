"""Run the stream worker: ``python -m stream_processors``."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import faust

from base.kafka import ensure_topics
from base.logs import logging_config
from stream_processors.settings import WorkerSettings
from stream_processors.worker import build_app, changelog_topics


def main() -> None:
    settings = WorkerSettings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app = build_app(settings)
    # Every topic the worker reads, its tables' changelogs too, exists and is listed by the
    # broker before Faust's consumer joins (see ``changelog_topics``). In a thread of its
    # own: Faust's worker takes the main thread's event loop afterwards.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, ensure_topics(settings, 60.0, changelog_topics(app))).result()
    worker = faust.Worker(
        app,
        loglevel=settings.log_level,
        quiet=True,
        logging_config=logging_config("worker", settings.log_format, settings.log_level.upper()),
    )
    # Faust's start-up spinner sets the root logger to DEBUG for as long as the worker runs,
    # so every debug call in Faust and aiokafka would build a log record per message.
    worker.spinner = None
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()
