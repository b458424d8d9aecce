"""The worker's HTTP views: live profile lookup and identity history, routed to the owner;
``/metrics`` (the worker group's lag, Faust's sensor hooks, readiness); ``/livez`` and
``/readyz`` (see ``base.health``)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import faust
from faust.exceptions import SameNode
from faust.web import Request, Response, View
from prometheus_client import Gauge

from base.health import lag_problems, liveness, readiness
from base.lag import LagMonitor
from base.metrics import exposition, process_registry
from schemas.profile import Profile
from stream_processors.figures import figures
from stream_processors.identity import BrowserIdentity, table_key
from stream_processors.rules import ProfileRules
from stream_processors.sensor import WorkerSensor
from stream_processors.settings import WorkerSettings


def add_views(
    app: faust.App,
    profiles: faust.types.TableT[Any, Any],
    identity: faust.types.TableT[Any, Any],
    settings: WorkerSettings,
    rules: ProfileRules,
) -> None:
    """``GET /profiles/{site}/{profile_id}`` (an anonymous profile's id is ``anon-<id>``),
    ``GET /identity/{site}/{anonymous_id}``, ``GET /metrics``, ``/livez`` and ``/readyz``."""
    add_operations_views(app, settings)
    identified = settings.topics.identified
    events = settings.topics.events

    async def owner_or_here(view: View, request: Request, topic: str, key: str) -> Response | None:
        """The owner's answer, or None when this worker owns ``key``."""
        changelog = profiles if topic == identified else identity
        try:
            url = app.assignor.key_store(changelog.changelog_topic.get_topic_name(), key.encode())
        except KeyError:
            return view.json({"error": "the worker is rebalancing, try again"}, status=503)
        try:
            routed: Response = await app.router._route_req(url, view.web, request)  # type: ignore[attr-defined]
            return routed
        except SameNode:
            return None

    @app.page("/profiles/{site}/{profile_id}")
    class ProfileView(View):
        async def get(self, request: Request, site: str, profile_id: str) -> Response:
            key = table_key(site, profile_id)
            answer = await owner_or_here(self, request, identified, key)
            if answer is not None:
                return answer
            value = profiles.get(key)
            if value is None:
                return self.json({"error": "no such profile"}, status=404)
            profile = Profile.model_validate(value)
            body = profile.model_dump(mode="json")
            body["figures"] = figures(profile, datetime.now(UTC), rules).model_dump(mode="json")
            return self.json(body)

    @app.page("/identity/{site}/{anonymous_id}")
    class IdentityView(View):
        async def get(self, request: Request, site: str, anonymous_id: str) -> Response:
            key = table_key(site, anonymous_id)
            answer = await owner_or_here(self, request, events, key)
            if answer is not None:
                return answer
            history = BrowserIdentity.model_validate(identity.get(key) or {})
            return self.json(
                {"site_id": site, "anonymous_id": anonymous_id} | history.model_dump(mode="json")
            )


TIMER_PROBE_S = 1.0


def worker_problems(app: faust.App, monitor: LagMonitor, settings: WorkerSettings) -> list[str]:
    """Why the worker cannot process events now (empty when it can)."""
    problems = []
    if app.rebalancing:
        problems.append("consumer: rebalancing")
    elif not app.consumer.assignment():
        problems.append(
            "consumer: no partition assigned (joining, or more workers than partitions)"
        )
    return problems + lag_problems(monitor, settings.health, [settings.app_id])


def add_operations_views(app: faust.App, settings: WorkerSettings) -> None:
    """``/metrics``, ``/livez`` and ``/readyz``.

    The lag reading starts at the first partition assignment, from the app's own loop: Faust
    starts tasks and timers only after table recovery, and the lag matters most while a
    long recovery holds consumption back. Faust stops the reading with the app.
    """
    monitor = LagMonitor(
        settings.kafka_bootstrap_servers, [settings.app_id], topic_prefix=settings.topic_prefix
    )

    def problems() -> list[str]:
        return worker_problems(app, monitor, settings)

    registry = process_registry("worker", problems, monitor)
    app.sensors.add(WorkerSensor(app, registry))
    late = Gauge(
        "footfall_worker_timer_lag_seconds",
        f"How late the worker's loop ran a {TIMER_PROBE_S:.0f} s timer last (a busy loop "
        "delays the journey timers and the commits alike).",
        registry=registry,
    )
    due = [time.monotonic() + TIMER_PROBE_S]

    @app.timer(TIMER_PROBE_S)  # type: ignore[untyped-decorator]
    async def timer_lag() -> None:
        now = time.monotonic()
        late.set(max(now - due[0], 0.0))
        due[0] = now + TIMER_PROBE_S

    reading: list[asyncio.Future[None]] = []

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]
    async def start_reading(sender: Any, *_: Any, **__: Any) -> None:
        if not reading:
            reading.append(app.add_future(monitor.run()))

    @app.page("/metrics")
    class MetricsView(View):
        async def get(self, request: Request) -> Response:
            body, content_type = exposition(registry)
            return self.bytes(body, headers={"Content-Type": content_type})

    @app.page("/livez")
    class LiveView(View):
        async def get(self, request: Request) -> Response:
            """The app's loop answers; the lag reading, once started, still runs."""
            stopped = ["lag monitor"] if reading and reading[0].done() else []
            status, body = liveness(stopped)
            return self.json(body, status=status)

    @app.page("/readyz")
    class ReadyView(View):
        async def get(self, request: Request) -> Response:
            status, body = readiness(problems())
            return self.json(body, status=status)
