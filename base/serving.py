"""Serving a process's ASGI app with uvicorn, the same way in every process."""

from __future__ import annotations

from typing import Any

import uvicorn


def serve(app: Any, host: str, port: int, **options: Any) -> None:
    """Run ``app`` until stopped: uvicorn's own logs at warning and above, through the root
    logger's handler (``base.logs``), so they come out in the process's format."""
    uvicorn.run(app, host=host, port=port, log_level="warning", log_config=None, **options)
