"""Run the stream worker: ``python -m stream_processors``."""

from __future__ import annotations

import faust

from stream_processors.settings import WorkerSettings
from stream_processors.worker import build_app


def main() -> None:
    settings = WorkerSettings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app = build_app(settings)
    worker = faust.Worker(app, loglevel=settings.log_level, quiet=True)
    # Faust's start-up spinner sets the root logger to DEBUG for as long as the worker runs,
    # so every debug call in Faust and aiokafka would build a log record per message.
    worker.spinner = None
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()
