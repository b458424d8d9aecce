"""Run the webhook dispatcher: ``python -m sinks.webhooks``."""

from __future__ import annotations

import logging

from footfall.logs import configure_logging
from footfall.serving import serve
from sinks.webhooks.service import create_app
from sinks.webhooks.settings import WebhookSettings


def main() -> None:
    settings = WebhookSettings()
    configure_logging("webhooks", settings.log_format)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    serve(create_app(settings), settings.host, settings.port)


if __name__ == "__main__":
    main()
