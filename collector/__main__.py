"""Run the collector: ``python -m collector``."""

from __future__ import annotations

import logging

import uvicorn

from collector.app import create_app
from collector.settings import CollectorSettings


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = CollectorSettings()
    # uvicorn's own proxy headers are off: it would believe X-Forwarded-For from 127.0.0.1
    # by default; the app reads it only from ``trusted_proxies``. uvicorn has no deadline
    # for request headers (``timeout_keep_alive`` runs only between requests).
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level="warning",
        proxy_headers=False,
    )


if __name__ == "__main__":
    main()
