"""Run the webhook dispatcher: ``python -m sinks.webhooks``."""

from __future__ import annotations

import logging

import uvicorn

from footfall.logs import configure_logging
from sinks.webhooks.service import create_app
from sinks.webhooks.settings import WebhookSettings


def main() -> None:
    settings = WebhookSettings()
    configure_logging("webhooks", settings.log_format)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level="warning",
        log_config=None,  # uvicorn's loggers go to the root's handler: the same format
    )


if __name__ == "__main__":
    main()
