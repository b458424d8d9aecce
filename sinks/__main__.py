"""Run the ClickHouse sink: ``python -m sinks``."""

from __future__ import annotations

import gc

import uvicorn

from footfall.logs import configure_logging
from sinks.service import create_app
from sinks.settings import SinkSettings


def main() -> None:
    settings = SinkSettings()
    configure_logging("sink", settings.log_format)
    # Each batch makes ~150k short-lived objects; collecting less often saves ~20 % of the
    # conversion time, and the long-lived start-up objects are left out of every collection.
    gc.freeze()
    gc.set_threshold(50_000, 10, 10)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level="warning",
        log_config=None,  # uvicorn's loggers go to the root's handler: the same format
    )


if __name__ == "__main__":
    main()
