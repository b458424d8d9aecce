"""Run the dashboard: ``python -m dashboard``."""

from __future__ import annotations

import logging

import uvicorn

from dashboard.app import create_app
from dashboard.settings import DashboardSettings


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = DashboardSettings()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="warning")


if __name__ == "__main__":
    main()
