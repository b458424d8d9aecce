"""A shop's own web server on its own local port: the page with Segment's snippet and the
self-hosted analytics.js bundle. A real server, not the browser's request routing, so that
Chromium applies CORS and its local-network rules as it would to a shop's page."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class ShopHandler(SimpleHTTPRequestHandler):
    """``/analytics.js/v1/<key>/analytics.min.js`` is the bundle, ``/analytics-next/bundles/*``
    its chunks (where analytics.js looks for them), anything else the page."""

    def __init__(self, *args: Any, page: bytes, bundle_dir: Path, **kwargs: Any) -> None:
        self.page = page
        self.bundle_dir = bundle_dir
        super().__init__(*args, directory=str(bundle_dir), **kwargs)

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path.endswith("/analytics.min.js"):
            self.path = "/standalone.js"
        elif "/analytics-next/bundles/" in path:
            self.path = "/" + path.rsplit("/", 1)[-1]
        else:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(self.page)))
            self.end_headers()
            self.wfile.write(self.page)
            return
        super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test reads requests from the browser, not from here."""


@contextmanager
def shop_server(port: int, page: str, bundle_dir: Path) -> Iterator[str]:
    """Serve the shop at ``http://127.0.0.1:port`` until the block ends."""
    handler = partial(ShopHandler, page=page.encode(), bundle_dir=bundle_dir)
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
