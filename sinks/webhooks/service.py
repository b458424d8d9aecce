"""The dispatcher process: its readers as background tasks and the admin API."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI

from footfall.kafka import ensure_topics, start_producer
from footfall.lag import LagCollector, LagMonitor
from sinks.webhooks.admin import admin_router, install_error_handlers
from sinks.webhooks.consumers import InputReader, RetryReader, follow_profiles
from sinks.webhooks.dispatcher import Dispatcher, crash_on_failure, utcnow
from sinks.webhooks.erasing import follow_privacy
from sinks.webhooks.metrics import DeliveryMetrics
from sinks.webhooks.sender import Sender
from sinks.webhooks.settings import WebhookSettings
from sinks.webhooks.state import DispatcherState
from sinks.webhooks.subscriptions import SubscriptionStore

log = logging.getLogger("footfall.webhooks")


def create_app(settings: WebhookSettings | None = None) -> FastAPI:
    settings = settings or WebhookSettings()
    store = SubscriptionStore(settings.subscriptions_path)
    state = DispatcherState(settings.state_path)
    state.forget_before(utcnow() - timedelta(days=settings.webhooks.outbox_retention_days))
    holder: dict[str, Dispatcher] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await ensure_topics(settings)
        producer = await start_producer(settings)
        sender = Sender(settings.webhooks)
        metrics = DeliveryMetrics()
        dispatcher = Dispatcher(settings, store, state, sender, producer, metrics)
        holder["dispatcher"] = dispatcher
        app.include_router(admin_router(dispatcher))
        topics = settings.topics
        stop = asyncio.Event()
        inputs = InputReader(
            dispatcher, settings.group_id, [topics.journey, topics.segments, topics.events], "input"
        )
        retries = RetryReader(dispatcher, settings.retry_group_id, [topics.webhooks_retry], "retry")
        lag = LagMonitor(
            settings.kafka_bootstrap_servers, [settings.group_id, settings.retry_group_id]
        )
        metrics.registry.register(LagCollector(lag))  # served by the admin API's /metrics
        tasks = [
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
    return app
