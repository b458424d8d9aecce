"""Run the webhook dispatcher: ``python -m webhooks``."""

from __future__ import annotations

import logging

from base.logs import configure_logging
from base.serving import serve
from webhooks.service import create_app
from webhooks.settings import WebhookSettings


def main() -> None:
    settings = WebhookSettings()
    configure_logging("webhooks", settings.log_format)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    serve(create_app(settings), settings.host, settings.port)


if __name__ == "__main__":
    main()
