"""The pure parts of operating Footfall: readiness from lag readings, the sink's memory of
recent events, the status screen's figures and the log formats."""

from __future__ import annotations

import io
import json
import logging

from base.config import HealthSettings
from base.health import consumer_problems, readiness
from base.lag import PartitionLag, progress
from base.logs import logging_config
from footfall.status import ProcessReading, figures, health_summary, parse_samples
from sinks.recent import RecentKeys

LIMITS = HealthSettings(commit_stall_s=30, max_lag=1000)


def row(committed: int, end: int, partition: int = 0) -> PartitionLag:
    return PartitionLag("sink", "footfall.events", partition, committed, 0, end, end - committed)


def test_a_commit_that_stands_still_with_records_to_read_is_a_stall() -> None:
    moved = progress({}, [row(10, 50), row(5, 5, 1)], now=100.0)
    moved = progress(moved, [row(10, 60), row(5, 5, 1)], now=131.0)  # partition 1 is idle
    [problem] = consumer_problems([row(10, 60), row(5, 5, 1)], moved, 131.0, LIMITS, ["sink"])
    assert "footfall.events[0]: committed offset 10 has not moved for 31s with 50" in problem
    moving = progress(moved, [row(11, 60), row(5, 5, 1)], now=140.0)
    assert consumer_problems([row(11, 60)], moving, 140.0, LIMITS, ["sink"]) == []
    assert consumer_problems([row(10, 60)], moved, 131.0, LIMITS, ["worker"]) == []


def test_lag_beyond_the_limit_is_not_ready_and_the_answer_says_why() -> None:
    found = consumer_problems([row(0, 1500)], {}, 0.0, LIMITS, ["sink"])
    assert found == ["consumer lag 1,500 is above 1,000"]
    assert readiness(found) == (503, {"ready": False, "problems": found})
    assert readiness([]) == (200, {"ready": True, "problems": []})


def test_the_memory_of_recent_events_keeps_the_newest_and_forgets_the_oldest_half() -> None:
    recent = RecentKeys(capacity=4)
    recent.add([("s", "a", str(n)) for n in range(5)])
    assert ("s", "a", "4") in recent
    assert ("s", "a", "0") not in recent  # the older generation was dropped
    assert ("t", "a", "4") not in recent  # another site's event with that id
    assert len(recent) <= 4


def test_the_status_figures_come_from_two_scrapes() -> None:
    text = (
        "# TYPE footfall_sink_rows_inserted counter\n"
        'footfall_sink_rows_inserted_total{table="events"} %d\n'
        "# TYPE footfall_consumer_lag gauge\n"
        'footfall_consumer_lag{group="g",topic="t",partition="0"} 7\n'
        "# TYPE footfall_sink_newest_event_received_timestamp_seconds gauge\n"
        "footfall_sink_newest_event_received_timestamp_seconds 95\n"
    )
    before = ProcessReading("sink", True, (), parse_samples(text % 100), at=100.0)
    after = ProcessReading("sink", True, (), parse_samples(text % 300), at=102.0)
    shown = figures({"sink": before}, {"sink": after})
    assert shown.rates["rows stored"] == 100.0
    assert shown.lag == {"g": 7.0}
    assert shown.newest_event_age_s == 7.0
    stuck = ProcessReading("sink", False, ("store: a query unanswered for 9s",))
    assert health_summary([after, stuck]) == "sink not ready: store: a query unanswered for 9s"


def test_logs_are_one_json_object_per_line_with_the_process_and_the_extras() -> None:
    for log_format in ("json", "text"):
        stream = io.StringIO()
        config = logging_config("sink", log_format)  # type: ignore[arg-type]
        formatter = logging.config.DictConfigurator(config).configure_formatter(  # type: ignore[attr-defined]
            config["formatters"]["footfall"]
        )
        handler = logging.StreamHandler(stream)
        handler.setFormatter(formatter)
        log = logging.getLogger(f"test.{log_format}")
        log.addHandler(handler)
        log.propagate = False
        log.warning("bad message", extra={"topic": "footfall.events", "offset": 12})
        line = stream.getvalue().strip()
        if log_format == "json":
            record = json.loads(line)
            assert record["process"] == "sink"
            assert record["level"] == "WARNING"
            assert (record["topic"], record["offset"], record["message"]) == (
                "footfall.events",
                12,
                "bad message",
            )
        else:
            assert line.endswith(
                "sink test.text WARNING bad message offset=12 topic=footfall.events"
            )
