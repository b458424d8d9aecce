"""Money in one currency per site: conversion, the site's own currency, amounts kept apart."""

from __future__ import annotations

import itertools
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from schemas.events import Envelope, dump_event
from schemas.profile import Profile
from stream_processors.figures import stored
from stream_processors.merging import merge_profiles
from stream_processors.money import MoneyFileError, MoneyRules, load_money
from stream_processors.profile import apply_event, new_profile
from stream_processors.rules import ProfileRules
from stream_processors.settings import WorkerSettings
from tests.processors.events import at, make

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "money.example.toml"
MONEY = MoneyRules(
    base_currency="EUR",
    sites={"shop-us": "USD", "shop-uk": "GBP"},
    rates={"USD": Decimal("1.0812"), "GBP": Decimal("0.8431")},
)
RULES = ProfileRules(money=MONEY, category_medians={"shoes": Decimal(100)})


def order(
    when: datetime, total: str, currency: str | None, site: str = "shop", **props: Any
) -> Envelope:
    properties = {"order_id": f"o-{when:%d%H}", "total": total} | props
    if currency is not None:
        properties["currency"] = currency
    return make("order_placed", when, site_id=site, properties=properties)


def refund(when: datetime, amount: str, currency: str | None, site: str = "shop") -> Envelope:
    properties = {"order_id": "o", "amount": amount}
    if currency is not None:
        properties["currency"] = currency
    return make("order_refunded", when, site_id=site, properties=properties)


def fold(events: list[Envelope], site: str = "shop", rules: ProfileRules = RULES) -> Profile:
    profile = new_profile(site, "c1")
    for event in events:
        profile = apply_event(profile, event, rules=rules)
    return profile


def test_an_eur_site_counts_a_usd_order_in_eur() -> None:
    profile = fold([order(at(0), "100.00", "EUR"), order(at(1), "100.00", "USD")])
    assert profile.orders == 2
    assert profile.revenue == Decimal("192.4898")  # 100 + 100 / 1.0812, rounded to 4 places
    assert profile.currency == "EUR"
    assert profile.unconverted == {}
    assert profile.unconverted_orders == 0


def test_a_usd_site_counts_eur_and_gbp_orders_in_usd() -> None:
    events = [order(at(0), "100.00", "EUR", "shop-us"), order(at(1), "84.31", "GBP", "shop-us")]
    profile = fold(events, "shop-us")
    assert profile.revenue == Decimal("216.2400")  # 108.12 + 84.31 * 1.0812 / 0.8431
    assert profile.currency == "USD"


def test_converted_amounts_are_rounded_half_even_to_four_places() -> None:
    assert MONEY.to_base(Decimal(10), "USD", "shop") == Decimal("9.2490")  # 9.24898…
    assert MONEY.to_base(Decimal("0.00005"), "GBP", "shop-uk") == Decimal("0.00005")  # its own
    converted = MONEY.to_base(Decimal("1.0812"), "USD", "shop")
    assert converted == Decimal(1)
    assert converted is not None
    assert converted.as_tuple().exponent == -4


def test_an_order_without_a_currency_is_in_its_sites_currency() -> None:
    us = fold([order(at(0), "50.00", None, "shop-us")], "shop-us")
    assert us.revenue == Decimal("50.00")
    assert us.currency == "USD"
    eu = fold([order(at(0), "50.00", None)])
    assert eu.revenue == Decimal("50.00")
    assert eu.currency == "EUR"


def test_the_schema_takes_a_missing_currency_as_none_not_as_a_guess() -> None:
    event = order(at(0), "50.00", None)
    assert event.properties.currency is None  # type: ignore[attr-defined]
    assert b"currency" not in dump_event(event)


def test_an_order_in_a_currency_without_a_rate_is_kept_apart_and_reported() -> None:
    item = {"product_id": "p1", "category": "shoes", "price": "15000"}
    profile = fold(
        [
            order(at(0), "100.00", "EUR", items=[{"product_id": "p0", "price": "100"}]),
            order(at(2), "15000", "JPY", items=[item]),
        ]
    )
    assert profile.revenue == Decimal("100.00")  # the yen are not in it
    assert profile.unconverted == {"JPY": Decimal(15000)}
    assert profile.unconverted_orders == 1
    # Still an order: counted, timed, its items' interest kept; its prices are not figures.
    assert profile.orders == 2
    assert profile.counts["order_placed"] == 2
    assert profile.last_order_at == at(2)
    assert sum(profile.order_hours.values()) == 2
    assert "shoes" in profile.category_scores
    assert (profile.price_sum, profile.price_count) == (Decimal(100), 1)
    assert profile.price_ratio_count == 0
    assert Profile.model_validate(stored(profile)) == profile  # kept in the table as it is
    assert MONEY.missing_rate("JPY", "shop") == "no rate for JPY (site 'shop' keeps money in EUR)"
    assert MONEY.missing_rate("USD", "shop") is None
    assert MONEY.missing_rate(None, "shop") is None


def test_without_a_money_file_only_eur_is_added_and_the_rest_kept_apart() -> None:
    rules = WorkerSettings(money_file=None).profile_rules()
    profile = fold([order(at(0), "10", "EUR"), order(at(1), "12", "USD")], rules=rules)
    assert profile.revenue == Decimal(10)
    assert profile.unconverted == {"USD": Decimal(12)}


def test_refunds_are_converted_like_orders() -> None:
    profile = fold(
        [
            order(at(0), "200.00", "EUR"),
            refund(at(1), "10.812", "USD"),
            refund(at(2), "5.00", None),
            refund(at(3), "1000", "JPY"),
        ]
    )
    assert profile.refunds == 3
    assert profile.refunded == Decimal("15.0000")  # 10 converted from USD, 5 in the base
    assert profile.revenue == Decimal("185.0000")
    assert profile.unconverted == {"JPY": Decimal(-1000)}  # orders less refunds, like revenue
    assert profile.unconverted_refunds == 1
    assert profile.unconverted_orders == 0


def test_money_comes_out_the_same_in_any_order() -> None:
    events = [
        order(at(0), "19.99", "USD"),
        order(at(1), "7.77", "GBP"),
        order(at(2), "300", "JPY"),
        refund(at(3), "3.33", "USD"),
        refund(at(4), "100", "JPY"),
        order(at(5), "1.01", None),
    ]
    results = {
        (p.revenue, p.refunded, tuple(p.unconverted.items()), p.unconverted_orders)
        for p in (fold(list(perm)) for perm in itertools.permutations(events))
    }
    assert len(results) == 1


def test_a_merge_adds_the_amounts_kept_apart_currency_by_currency() -> None:
    anonymous = fold(
        [order(at(0), "1000", "JPY"), order(at(1), "5", "CHF"), order(at(2), "10", "USD")]
    )
    customer = fold(
        [order(at(3), "500", "JPY"), refund(at(4), "1", "CHF"), order(at(5), "20", None)]
    )
    merged = merge_profiles(customer, anonymous)
    assert merged.unconverted == {"JPY": Decimal(1500), "CHF": Decimal(4)}
    assert merged.unconverted_orders == 3
    assert merged.unconverted_refunds == 1
    assert merged.orders == 5
    assert merged.revenue == Decimal("29.2490")  # 20 + 10 / 1.0812
    assert merged.currency == "EUR"


def test_the_example_rates_file_reads_and_converts_as_it_says() -> None:
    money = load_money(EXAMPLE)
    assert money.base_of("demo-uk") == "GBP"
    assert money.base_of("anything-else") == "EUR"
    assert money.to_base(Decimal("100.00"), "USD", "demo") == Decimal("92.4898")
    assert money.to_base(Decimal("100.00"), "USD", "demo-uk") == Decimal("77.9782")


def test_the_worker_reads_its_rates_file_named_by_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "money.toml"
    path.write_text(
        'base_currency = "USD"\nrates_per = "EUR"\n[rates]\nUSD = "1.25"\nGBP = "0.85"\n'
    )
    monkeypatch.setenv("FOOTFALL_MONEY_FILE", str(path))
    money = WorkerSettings().profile_rules().money
    assert money.base_of("shop") == "USD"
    assert money.to_base(Decimal("17"), "GBP", "shop") == Decimal(25)  # 17 * 1.25 / 0.85


BAD_FILES = {
    "a float rate": (
        "[rates]\nUSD = 1.0812\n",
        'rates: rate of USD is 1.0812: write it as a string, USD = "1.0812"',
    ),
    "a rate of zero": ('[rates]\nUSD = "0"\n', "rates.USD: Input should be greater than 0"),
    "a rate that is no number": (
        '[rates]\nUSD = "one"\n',
        "rates.USD: Input should be a valid decimal",
    ),
    "a lowercase code": ('base_currency = "eur"\n', "base_currency: String should match pattern"),
    "a misspelt key": ('base_curency = "EUR"\n', "base_curency: Extra inputs are not permitted"),
    "a base without a rate": (
        '[sites]\nshop-ch = "CHF"\n[rates]\nUSD = "1.08"\n',
        "file: site 'shop-ch' is in CHF, which has no rate in [rates]",
    ),
    "a pivot whose rate is not 1": ('[rates]\nEUR = "2"\n', "the rate of EUR can only be 1"),
    "no TOML": ("rates = [", "not valid TOML"),
}


@pytest.mark.parametrize("case", BAD_FILES, ids=list(BAD_FILES))
def test_a_bad_rates_file_stops_the_worker_at_start_up_naming_the_fault(
    case: str, tmp_path: Path
) -> None:
    text, fault = BAD_FILES[case]
    path = tmp_path / "money.toml"
    path.write_text(text)
    with pytest.raises(MoneyFileError) as caught:
        WorkerSettings(money_file=path).profile_rules()
    assert str(caught.value).startswith(f"rates file {path}: ")
    assert fault in str(caught.value)


def test_a_missing_rates_file_stops_the_worker_at_start_up(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.toml"
    with pytest.raises(MoneyFileError, match="cannot be read: No such file"):
        WorkerSettings(money_file=path).profile_rules()
