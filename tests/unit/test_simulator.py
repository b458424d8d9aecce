"""The demo storefront: deterministic, valid events, and a ground truth that adds up."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal

from footfall.demo.simulator import simulate

NOW = datetime(2026, 11, 24, tzinfo=UTC)


def test_same_seed_same_events() -> None:
    first = simulate(30, seed=3, now=NOW)
    second = simulate(30, seed=3, now=NOW)
    assert first.browser_events == second.browser_events
    assert first.server_events == second.server_events


def test_ground_truth_accounts_for_every_event_and_order() -> None:
    sim = simulate(120, seed=5, now=NOW)
    assert sum(t.events for t in sim.truth.values()) == sim.total
    orders = sum(t.orders for t in sim.truth.values())
    assert orders == len(sim.server_events)
    assert sum(t.revenue for t in sim.truth.values()) == sum(
        Decimal(e["properties"]["total"]) for e in sim.server_events
    )


def test_every_persona_shows_up_and_only_buyers_order() -> None:
    sim = simulate(200, seed=11, now=NOW)
    personas = Counter(sim.personas.values())
    assert set(personas) == {
        "window_shopper",
        "bargain_hunter",
        "luxury_buyer",
        "cart_abandoner",
        "loyal_buyer",
    }
    for key, truth in sim.truth.items():
        if sim.personas[key] in {"window_shopper", "cart_abandoner"}:
            assert truth.orders == 0, key


def test_events_are_spread_over_the_simulated_weeks() -> None:
    sim = simulate(100, seed=2, weeks=6, now=NOW)
    times = [datetime.fromisoformat(e["occurred_at"]) for e in sim.browser_events]
    assert (max(times) - min(times)).days >= 28
    assert max(times) <= NOW
