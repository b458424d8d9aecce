"""Poison and bugs on the real worker: poison goes to the DLQ and its partition moves on; a
bug stops the worker before anything commits past its message, which counts once it is back.

No valid input makes the worker's pure step raise (that is the point of the shared event
definition), so the failures are planted: a ``sitecustomize`` module on the worker's
``PYTHONPATH`` wraps ``profile_step.step`` to raise for browsers named ``poison-…`` (an
``OverflowError``, as a date centuries away once did) and ``bug-…`` (a ``KeyError``, a
programming error). Everything else is the real stack.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from base.sqlclient import SqlClient
from footfall.stack import Stack
from stream_processors.worker import EXIT_BUG
from tests.conftest import stack_settings_for
from tests.processors.test_identity_stack import event, live, send

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

TRAPS = """
import os

if os.environ.get("FOOTFALL_TEST_TRAPS") == "on":
    import stream_processors.profile_step as profile_step

    real_step = profile_step.step

    def step(before, message, *args):
        browser = getattr(getattr(message, "event", None), "anonymous_id", "")
        if browser.startswith("poison"):
            raise OverflowError("date value out of range")
        if browser.startswith("bug"):
            raise KeyError("a programming error")
        return real_step(before, message, *args)

    profile_step.step = step
"""


def test_poison_is_parked_and_a_bug_stops_the_worker_without_losing_its_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(TRAPS)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(hooks), os.getcwd()]))
    monkeypatch.setenv("FOOTFALL_TEST_TRAPS", "on")
    with Stack(stack_settings_for(tmp_path / "stack")) as stack:
        stack.start()
        sql = SqlClient(stack.settings.sink_url, stack.settings.admin_token)
        poison = [event("poison-1", 3), event("poison-2", 4)]
        send(stack, [event("a", 1), event("a", 2), *poison, event("b", 5), event("b", 6)])
        for browser in ("a", "b"):
            live(stack, f"/profiles/demo/anon-{browser}", lambda b: b["event_count"] == 2)
        deadline = time.monotonic() + 60
        parked: list[dict[str, object]] = []
        while time.monotonic() < deadline and len(parked) < 2:
            parked = sql.rows("SELECT event_id, reason, stage FROM dlq_events FINAL")
            time.sleep(0.5)
        assert sorted(str(row["event_id"]) for row in parked) == sorted(
            e["event_id"] for e in poison
        )
        assert {row["stage"] for row in parked} == {"profile"}
        assert all("OverflowError" in str(row["reason"]) for row in parked)
        assert stack.child("worker").alive()

        # A bug: the worker stops loudly, and the message is not committed past.
        send(stack, [event("bug-1", 7), event("c", 8)])
        worker = stack.child("worker").process
        assert worker is not None
        assert worker.wait(60) == EXIT_BUG
        assert stack.child("worker").log_path is not None
        log = stack.child("worker").log_path.read_text(errors="replace")
        assert "stopping the worker: a bug in the profile step" in log
        assert "KeyError" in log

        # Fixed and started again: the message that met the bug counts, once.
        monkeypatch.setenv("FOOTFALL_TEST_TRAPS", "off")
        stack.restart("worker")
        live(stack, "/profiles/demo/anon-bug-1", lambda b: b["event_count"] == 1)
        live(stack, "/profiles/demo/anon-c", lambda b: b["event_count"] == 1)
        assert len(sql.rows("SELECT event_id FROM dlq_events FINAL")) == 2
        sql.close()
