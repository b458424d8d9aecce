"""The dispatcher process: its readers as background tasks and the admin API."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from base.health import lag_problems, liveness, readiness
from base.kafka import ensure_topics, start_producer
from base.lag import LagMonitor
from base.metrics import process_registry
from webhooks.admin import admin_router, install_error_handlers
from webhooks.consumers import InputReader, RetryReader, follow_profiles
from webhooks.dispatcher import Dispatcher, crash_on_failure, utcnow
from webhooks.erasing import follow_privacy
from webhooks.metrics import DeliveryMetrics, SubscriptionCollector
from webhooks.sender import Sender
from webhooks.settings import WebhookSettings
from webhooks.state import DispatcherState
from webhooks.subscriptions import SubscriptionStore

log = logging.getLogger("footfall.webhooks")


def create_app(settings: WebhookSettings | None = None) -> FastAPI:
    settings = settings or WebhookSettings()
    store = SubscriptionStore(settings.subscriptions_path)
    state = DispatcherState(settings.state_path)
    state.forget_before(utcnow() - timedelta(days=settings.webhooks.outbox_retention_days))
    holder: dict[str, Dispatcher] = {}
    lag = LagMonitor(
        settings.kafka_bootstrap_servers,
        [settings.group_id, settings.retry_group_id],
        topic_prefix=settings.topic_prefix,
    )
    tasks: list[asyncio.Task[None]] = []

    def problems() -> list[str]:
        """The input group only: the retry group holds deliveries due hours later, so its
        commit stands still by design."""
        if "dispatcher" not in holder:
            return ["starting: creating topics and connecting the producer"]
        return lag_problems(lag, settings.health, [settings.group_id])

    registry = process_registry("webhooks", problems, lag)
    registry.register(SubscriptionCollector(store.all))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await ensure_topics(settings)
        producer = await start_producer(settings)
        sender = Sender(settings.webhooks)
        metrics = DeliveryMetrics(registry)
        dispatcher = Dispatcher(settings, store, state, sender, producer, metrics)
        holder["dispatcher"] = dispatcher
        app.include_router(admin_router(dispatcher))
        topics = settings.topics
        stop = asyncio.Event()
        inputs = InputReader(
            dispatcher, settings.group_id, [topics.journey, topics.segments, topics.events], "input"
        )
        retries = RetryReader(dispatcher, settings.retry_group_id, [topics.webhooks_retry], "retry")
        tasks[:] = [
            asyncio.create_task(inputs.run(inputs.handle, stop)),
            asyncio.create_task(retries.run(retries.handle, stop)),
            asyncio.create_task(follow_profiles(dispatcher, stop)),
            asyncio.create_task(follow_privacy(dispatcher, stop)),
            asyncio.create_task(lag.run(stop)),  # counts the broker's errors, never raises them
        ]
        for task in tasks:
            task.add_done_callback(crash_on_failure)
        log.info("webhook dispatcher up: %d subscriptions", len(store.all()))
        try:
            yield
        finally:
            stop.set()
            await asyncio.wait(tasks, timeout=10)
            await sender.close()
            await producer.stop()
            state.close()

    app = FastAPI(title="Footfall webhook dispatcher", lifespan=lifespan)
    install_error_handlers(app)

    @app.get("/livez")
    async def livez() -> JSONResponse:
        """200 while the input and retry readers, the profile follower and the lag reading run."""
        names = ("input reader", "retry reader", "profile follower", "lag monitor")
        status, body = liveness([n for n, t in zip(names, tasks, strict=False) if t.done()])
        return JSONResponse(body, status)

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        """200 while the dispatcher keeps up with its input; else 503 with the reasons."""
        status, body = readiness(problems())
        return JSONResponse(body, status)

    return app
