"""The benchmarks' pure parts: the stack benchmark's verdict ("kept up with the rate?") and
rate search, the broker line every benchmark prints, and its private stack's settings."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from base.config import BrokerKind
from footfall.bench_broker import BrokerFacts, describe, private_stack_settings
from footfall.cli import app
from footfall.steady_rate import LagSample, Trial, bounds, next_rate, verdict

RATE, WINDOW = 1000, 120.0


def steady(
    lag_at: dict[str, Callable[[float], float]], count: int = 60, window: float = WINDOW
) -> list[LagSample]:
    """Readings spread evenly over the window; each lag a function of the time."""
    return [
        LagSample(at, {name: int(f(at)) for name, f in lag_at.items()})
        for at in (i * window / count for i in range(count))
    ]


def test_a_bounded_lag_that_wobbles_is_kept_up() -> None:
    wobbling = steady({"worker": lambda t: 300 + 200 * (int(t) % 3), "store": lambda t: 900})
    result = verdict(wobbling, RATE, WINDOW, RATE * int(WINDOW), 0)
    assert result.kept_up, result.reasons
    assert result.reasons == ()


def test_a_lag_growing_by_a_small_deficit_is_not_kept_up() -> None:
    # 5 % short of the rate: 50 events/s pile up, 2,400 between the halves' medians.
    growing = steady({"worker": lambda t: 50 * t, "sink": lambda t: 100})
    result = verdict(growing, RATE, WINDOW, RATE * int(WINDOW), 0)
    assert not result.kept_up
    assert any(reason.startswith("worker lag grew") for reason in result.reasons)
    assert not any(reason.startswith("sink") for reason in result.reasons)


def test_the_climb_at_the_start_of_a_window_is_not_growth() -> None:
    # Every backlog starts from nothing; this one settles at 4,500 after 20 of 40 s.
    climbing = steady({"sink": lambda t: 4500 * min(t / 20, 1.0)}, count=40, window=40.0)
    assert verdict(climbing, RATE, 40.0, RATE * 40, 0).kept_up


def test_a_lag_that_is_flat_but_large_is_not_kept_up() -> None:
    stuck = steady({"sink": lambda t: 11 * RATE})
    result = verdict(stuck, RATE, WINDOW, RATE * int(WINDOW), 0)
    assert not result.kept_up
    assert result.reasons == ("sink lag ended at 11,000",)


def test_a_backlog_draining_from_an_earlier_window_is_kept_up() -> None:
    draining = steady({"store": lambda t: max(0.0, 4000 - 100 * t)})
    assert verdict(draining, RATE, WINDOW, RATE * int(WINDOW), 0).kept_up


def test_load_not_offered_or_refused_is_not_kept_up() -> None:
    calm = steady({"worker": lambda t: 10})
    short = verdict(calm, RATE, WINDOW, int(0.9 * RATE * WINDOW), 0)
    assert not short.kept_up
    assert "sent 900 events/s of 1,000" in short.reasons
    refused = verdict(calm, RATE, WINDOW, RATE * int(WINDOW), 3)
    assert refused.reasons == ("3 requests failed",)


def test_too_few_readings_give_no_verdict() -> None:
    sparse = steady({"worker": lambda t: 0}, count=5)
    result = verdict(sparse, RATE, WINDOW, RATE * int(WINDOW), 0)
    assert not result.kept_up
    assert result.reasons[0].startswith("too few lag readings")


def search(capacity: int, start: int = 100, ceiling: int = 20_000) -> list[int]:
    """The rates the search tries against a stack that keeps up with exactly ``capacity``."""
    trials: list[Trial] = []
    for _ in range(50):
        rate = next_rate(trials, start, ceiling)
        if rate is None:
            return [t.rate for t in trials]
        trials.append(Trial(rate, rate <= capacity))
    raise AssertionError("the search did not end")


def test_the_search_doubles_then_bisects_to_within_ten_percent() -> None:
    tried = search(capacity=1234)
    assert tried[:5] == [100, 200, 400, 800, 1600]
    kept, failed = bounds([Trial(r, r <= 1234) for r in tried])
    assert kept is not None
    assert failed is not None
    assert kept <= 1234 < failed
    assert failed - kept <= 0.1 * kept
    assert len(tried) <= 9


def test_the_search_stops_at_the_ceiling_and_halves_below_the_start() -> None:
    assert search(capacity=10**6, ceiling=1000) == [100, 200, 400, 800, 1000]
    low = search(capacity=30, start=100)
    assert low[:2] == [100, 50]
    assert bounds([Trial(r, r <= 30) for r in low]) == (30, 40)


def test_a_failure_counts_against_every_rate_above_it() -> None:
    # A long confirmation at 800 failed after a short window at 1,000 had passed.
    trials = [Trial(400, True), Trial(800, True), Trial(1000, True), Trial(800, False)]
    assert bounds(trials) == (400, 800)
    assert next_rate(trials, 100, 20_000) == 600


@pytest.mark.parametrize("kind", list(BrokerKind))
def test_the_broker_line_names_what_moves_the_figures(kind: BrokerKind) -> None:
    kafka = kind is BrokerKind.kafka
    facts = BrokerFacts(kind, "4.4.0" if kafka else "0.6.0", 4, kafka, 1024, 16384 if kafka else 1)
    line = describe(facts)
    assert "4 partitions" in line
    if kafka:
        assert "Apache Kafka 4.4.0" in line
        assert "heap 1024 MiB" in line
        assert "idempotent producers: yes" in line
        assert "16,384 bytes" in line
    else:
        assert "Tansu 0.6.0" in line
        assert "heap" not in line
        assert "idempotent producers: no" in line
        assert "one record per batch" in line


@pytest.mark.parametrize("bench", ["collector", "processors", "sink", "webhooks", "stack"])
def test_every_benchmark_takes_the_broker_option(bench: str) -> None:
    result = CliRunner().invoke(app, ["bench", bench, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "--broker" in result.output
    assert "kafka|tansu" in result.output


def test_a_private_stack_starts_its_own_broker_on_ports_of_its_own(tmp_path: Path) -> None:
    settings = private_stack_settings(tmp_path, BrokerKind.tansu)
    assert settings.external_kafka is None  # else no broker would be started at all
    assert settings.kafka_bootstrap_servers == f"127.0.0.1:{settings.broker_port}"
    assert settings.broker == "tansu"
    assert settings.broker_kind is BrokerKind.tansu
    defaults = (19092, 19093, 8000, 6066, 8123, 8125)
    ports = (
        settings.broker_port,
        settings.broker_controller_port,
        settings.collector_port,
        settings.worker_port,
        settings.sink_port,
        settings.webhooks_port,
    )
    assert not set(ports) & set(defaults)
    assert len(set(ports)) == len(ports)
