"""Run the ClickHouse sink: ``python -m sinks``."""

from __future__ import annotations

import gc

from base.logs import configure_logging
from base.serving import serve
from sinks.service import create_app
from sinks.settings import SinkSettings


def main() -> None:
    settings = SinkSettings()
    configure_logging("sink", settings.log_format)
    # Each batch makes ~150k short-lived objects; collecting less often saves ~20 % of the
    # conversion time, and the long-lived start-up objects are left out of every collection.
    gc.freeze()
    gc.set_threshold(50_000, 10, 10)
    serve(create_app(settings), settings.host, settings.port)


if __name__ == "__main__":
    main()
