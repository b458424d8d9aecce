"""Run the collector: ``python -m collector``."""

from __future__ import annotations

from base.logs import configure_logging
from base.serving import serve
from collector.app import create_app
from collector.settings import CollectorSettings


def main() -> None:
    settings = CollectorSettings()
    configure_logging("collector", settings.log_format)
    # uvicorn's own proxy headers are off: it would believe X-Forwarded-For from 127.0.0.1
    # by default; the app reads it only from ``trusted_proxies``. uvicorn has no deadline
    # for request headers (``timeout_keep_alive`` runs only between requests).
    serve(create_app(settings), settings.host, settings.port, proxy_headers=False)


if __name__ == "__main__":
    main()
