"""Run the collector: ``python -m collector``."""

from __future__ import annotations

import logging

import uvicorn

from collector.app import create_app
from collector.settings import CollectorSettings


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = CollectorSettings()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="warning")


if __name__ == "__main__":
    main()
