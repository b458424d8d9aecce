"""Real-browser fixtures: Debian's Chromium driven by Playwright (no browser download)."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer

from footfall.stack import Stack
from tests.conftest import stack_settings_for

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless=new",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Headless Chromium says "HeadlessChrome" in its agent, which the collector treats as a
    # bot's (its write-key events are diverted); a shopper's Chromium says "Chrome". A flag,
    # not a context option, so that beacons sent while a page unloads carry it too.
    "--user-agent=Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Safari/537.36",
]


# Module scope: while the sync API is open it owns the main thread's event loop, so it must
# be closed before tests outside this folder call asyncio.run.
@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed")
    if not shutil.which("chromium"):
        pytest.skip("Chromium is not installed (deploy/local/install.sh installs it as root)")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One stack, its dashboard on, for every browser test: each reads only its own
    browser's events, and the dashboard's figures are checked against the same store."""
    settings = stack_settings_for(tmp_path_factory.mktemp("browser"), dashboard=True)
    with Stack(settings) as running:
        running.start()
        yield running


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context()
    page = context.new_page()
    yield page
    context.close()


def kafka_events(stack: Stack, match: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
    """Every event on the events topic, from the beginning, that ``match`` accepts."""

    async def read() -> list[dict[str, Any]]:
        consumer = AIOKafkaConsumer(
            stack.settings.topics.events,
            bootstrap_servers=stack.settings.bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        found: list[dict[str, Any]] = []
        try:
            while True:
                batch = await consumer.getmany(timeout_ms=1000)
                if not batch:
                    return found
                for records in batch.values():
                    for record in records:
                        event = orjson.loads(record.value)
                        if match(event):
                            found.append(event)
        finally:
            await consumer.stop()

    # Playwright's sync API owns this thread's event loop: read Kafka from another thread.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, read()).result()


def wait_for_events(
    stack: Stack, match: Callable[[dict[str, Any]], bool], count: int, timeout: float = 30
) -> list[dict[str, Any]]:
    """Poll Kafka until at least ``count`` matching events are there."""
    deadline = time.monotonic() + timeout
    while True:
        found = kafka_events(stack, match)
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.5)
