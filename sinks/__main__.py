"""Run the ClickHouse sink: ``python -m sinks``."""

from __future__ import annotations

import logging

import uvicorn

from sinks.service import create_app
from sinks.settings import SinkSettings


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = SinkSettings()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="warning")


if __name__ == "__main__":
    main()
