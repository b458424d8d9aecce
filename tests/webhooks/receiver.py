"""A real HTTP receiver for webhook tests: uvicorn on a free port in a thread.

Each path behaves differently: ``/ok`` answers 204, ``/flaky`` fails twice per delivery id
and then succeeds, ``/dead`` answers 500 until ``revive()``, ``/slow`` takes a while,
``/gone`` answers 410, ``/busy`` answers 503 with ``Retry-After: 1`` once per delivery id.
Every request is verified with the ``standardwebhooks`` library.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from standardwebhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from footfall.stack import free_port


@dataclass
class Received:
    path: str
    delivery_id: str
    body: dict[str, Any] | None
    verified: bool
    status: int
    at: float


@dataclass
class Receiver:
    secret: str
    slow_s: float = 0.3
    port: int = field(default_factory=free_port)
    received: list[Received] = field(default_factory=list)
    tries: Counter[tuple[str, str]] = field(default_factory=Counter)
    alive: bool = False
    concurrent: Counter[str] = field(default_factory=Counter)
    most_concurrent: Counter[str] = field(default_factory=Counter)
    server: uvicorn.Server | None = None
    thread: threading.Thread | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    def revive(self) -> None:
        self.alive = True

    def answer(self, path: str, delivery_id: str) -> int:
        self.tries[(path, delivery_id)] += 1
        if path == "flaky":
            return 500 if self.tries[(path, delivery_id)] <= 2 else 200
        if path == "dead":
            return 200 if self.alive else 500
        if path == "gone":
            return 410
        if path == "busy":
            return 503 if self.tries[(path, delivery_id)] == 1 else 200
        return 204

    async def hook(self, request: Request) -> Response:
        path = request.path_params["path"]
        raw = await request.body()
        try:
            body = Webhook(self.secret).verify(raw, dict(request.headers))
            verified = True
        except WebhookVerificationError:
            body, verified = None, False
        with self.lock:
            self.concurrent[path] += 1
            self.most_concurrent[path] = max(self.most_concurrent[path], self.concurrent[path])
        if path == "slow":
            await asyncio.sleep(self.slow_s)
        delivery_id = request.headers.get("webhook-id", "")
        with self.lock:
            self.concurrent[path] -= 1
            status = self.answer(path, delivery_id)
            self.received.append(Received(path, delivery_id, body, verified, status, time.time()))
        headers = {"retry-after": "1"} if status == 503 else {}
        return Response(status_code=status, headers=headers)

    def hits(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    def successes(self, path: str) -> list[Received]:
        return [r for r in self.hits(path) if 200 <= r.status < 300]

    def __enter__(self) -> Receiver:
        app = Starlette(routes=[Route("/{path}", self.hook, methods=["POST"])])
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("receiver did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.server is not None
        assert self.thread is not None
        self.server.should_exit = True
        self.thread.join(10)
