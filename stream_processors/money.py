"""Money in one currency per site: base currencies, configured rates, conversion. Pure.

A profile's ``revenue`` and ``refunded`` are sums, and a sum is only a figure when every term
is in the same currency. Each site therefore has a *base currency*; an order or refund in
another currency is converted to it with the rates the operator configures, and one whose
currency has no rate is kept apart (``Profile.unconverted``), never added. An order without a
currency is in its site's base currency: only the shop knows what it charges in, and guessing
"USD" or "EUR" would add foreign amounts to revenue without a trace.

Rates are fixed by the operator, not looked up: the worker stays a pure fold over the events, so
the same events and the same rates give the same profile in any order, and a replay gives the
same figures again. A rate change applies to the events processed after it (a rebuild from the
events topic converts everything at the new rates).

The rates file (TOML; ``FOOTFALL_MONEY_FILE`` names it; ``deploy/money.example.toml`` is an
example)::

    base_currency = "EUR"        # every site not listed under [sites]
    rates_per = "EUR"            # the rates below are per one unit of this currency
                                 # (default: base_currency)

    [sites]                      # site id = its base currency
    shop-us = "USD"
    shop-uk = "GBP"

    [rates]                      # units of each currency that one EUR buys, as the ECB and
    USD = "1.0812"               # most rate feeds publish them; strings, never TOML floats
    GBP = "0.8431"               # (a float is binary and loses digits)

Converting ``amount`` from currency X to a site's base B is ``amount * rate[B] / rate[X]``
(``rate[rates_per]`` is 1), rounded half-even to 4 decimal places, the precision of
``schemas.events.Money``. An amount already in B is kept as it is. Without a file every site's
base currency is EUR and there are no rates: an order in any other currency is kept apart and
reported.

Only :func:`load_money` reads a file; everything else is pure.
"""

from __future__ import annotations

import tomllib
from decimal import ROUND_HALF_EVEN, Context, Decimal
from pathlib import Path
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from schemas.events import Currency, Identifier
from schemas.profile import Profile

PLACES = Decimal("0.0001")
"""Converted amounts are rounded to this, the precision of ``schemas.events.Money``."""
ARITHMETIC = Context(prec=60, rounding=ROUND_HALF_EVEN)
"""Wide enough that no valid amount times a valid rate is ever rounded before ``PLACES``."""

Rate = Annotated[Decimal, Field(gt=0, max_digits=24, decimal_places=12, allow_inf_nan=False)]


class MoneyFileError(ValueError):
    """The rates file cannot be used; the message names the file and what is wrong in it."""


class MoneyRules(BaseModel):
    """Base currency of each site and the rates between currencies."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_currency: Currency = Field(
        default="EUR", description="Base currency of every site not listed in ``sites``."
    )
    sites: dict[Identifier, Currency] = Field(
        default_factory=dict, description="Site id → its base currency."
    )
    rates_per: Currency | None = Field(
        default=None,
        description="The currency the rates are quoted against (default: ``base_currency``).",
    )
    rates: dict[Currency, Rate] = Field(
        default_factory=dict,
        description="Units of each currency that one unit of ``rates_per`` buys.",
    )

    @field_validator("rates", mode="before")
    @classmethod
    def exact_rates(cls, value: Any) -> Any:
        """A rate written as a TOML float has already lost digits: refuse it, say how."""
        if isinstance(value, dict):
            for currency, rate in value.items():
                if isinstance(rate, float):
                    raise ValueError(
                        f"rate of {currency} is {rate!r}: write it as a string, "
                        f'{currency} = "{rate}", so that it is read as an exact decimal'
                    )
        return value

    @model_validator(mode="after")
    def bases_have_rates(self) -> Self:
        """With rates given, every base currency must be among them, or no order of that
        site in another currency could ever be converted."""
        unit = self.quoted_in
        if unit in self.rates and self.rates[unit] != 1:
            raise ValueError(f"rates are per one {unit}, so the rate of {unit} can only be 1")
        if self.rates:
            for site, base in [("", self.base_currency), *self.sites.items()]:
                if base != unit and base not in self.rates:
                    who = f"site {site!r}" if site else "base_currency"
                    raise ValueError(f"{who} is in {base}, which has no rate in [rates]")
        return self

    @property
    def quoted_in(self) -> str:
        return self.rates_per or self.base_currency

    def base_of(self, site: str) -> str:
        """The currency ``site``'s revenue is kept in."""
        return self.sites.get(site, self.base_currency)

    def rate(self, currency: str) -> Decimal | None:
        return Decimal(1) if currency == self.quoted_in else self.rates.get(currency)

    def missing_rate(self, currency: str | None, site: str) -> str | None:
        """Why an amount in ``currency`` cannot be put in ``site``'s base currency, or None."""
        base = self.base_of(site)
        if currency is None or currency == base:
            return None
        if self.rate(currency) is None:
            return f"no rate for {currency} (site {site!r} keeps money in {base})"
        if self.rate(base) is None:
            return f"no rate for {base}, the base currency of site {site!r}"
        return None

    def to_base(self, amount: Decimal, currency: str | None, site: str) -> Decimal | None:
        """``amount`` in ``site``'s base currency; None when a rate is missing.

        ``currency`` None means the site's own currency. A converted amount is rounded to
        four places, each on its own, so sums of converted amounts stay order-free.
        """
        base = self.base_of(site)
        if currency is None or currency == base:
            return amount
        rate_from, rate_to = self.rate(currency), self.rate(base)
        if rate_from is None or rate_to is None:
            return None
        converted = ARITHMETIC.divide(ARITHMETIC.multiply(amount, rate_to), rate_from)
        return converted.quantize(PLACES, context=ARITHMETIC)

    def order_changes(
        self, profile: Profile, amount: Decimal, currency: str | None, site: str
    ) -> dict[str, Any]:
        """Profile changes for an order of ``amount``: to revenue in the base, or kept apart."""
        converted = self.to_base(amount, currency, site)
        if converted is None:
            return {
                "unconverted": add_amounts(profile.unconverted, {str(currency): amount}),
                "unconverted_orders": profile.unconverted_orders + 1,
            }
        return {"revenue": profile.revenue + converted, "currency": self.base_of(site)}

    def refund_changes(
        self, profile: Profile, amount: Decimal, currency: str | None, site: str
    ) -> dict[str, Any]:
        """Profile changes for a refund of ``amount``: off revenue in the base, or kept apart
        (as a negative amount: ``unconverted`` is orders less refunds, like revenue)."""
        converted = self.to_base(amount, currency, site)
        if converted is None:
            return {
                "unconverted": add_amounts(profile.unconverted, {str(currency): -amount}),
                "unconverted_refunds": profile.unconverted_refunds + 1,
            }
        return {
            "revenue": profile.revenue - converted,
            "refunded": profile.refunded + converted,
            "currency": self.base_of(site),
        }


def load_money(path: Path) -> MoneyRules:
    """The rules in the rates file at ``path``; :class:`MoneyFileError` names what is wrong."""
    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise MoneyFileError(f"rates file {path}: cannot be read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise MoneyFileError(f"rates file {path}: not valid TOML: {exc}") from None
    try:
        return MoneyRules.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'file'}: "
            + error["msg"].removeprefix("Value error, ")
            for error in exc.errors()
        )
        raise MoneyFileError(f"rates file {path}: {problems}") from None


def add_amounts(a: dict[str, Decimal], b: dict[str, Decimal]) -> dict[str, Decimal]:
    """Amounts per currency, added currency by currency."""
    merged = dict(a)
    for currency, amount in b.items():
        merged[currency] = merged.get(currency, Decimal(0)) + amount
    return merged
