"""Run the webhook dispatcher: ``python -m sinks.webhooks``."""

from __future__ import annotations

import logging

import uvicorn

from sinks.webhooks.service import create_app
from sinks.webhooks.settings import WebhookSettings


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    settings = WebhookSettings()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="warning")


if __name__ == "__main__":
    main()
