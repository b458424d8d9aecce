"""Segments: named rules over profile features, declared in TOML. Pure, no eval.

A rule is a list of conditions ``"<feature> <op> <value>"`` under ``all`` (every one holds)
and/or ``any`` (at least one holds); ops are ``== != > >= < <= in``; values are numbers,
quoted strings, ``true``/``false``/``null`` or lists. Features are computed from the profile
at a given time, so time-based rules (``days_since_last_order``, ``cart_adds_24h``) are
evaluated as of the event or timer that triggers the evaluation.
"""

from __future__ import annotations

import ast
import operator
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from schemas.profile import STAGES, Profile, ProfileFigures
from schemas.segments import SegmentChange

DEFAULT_CONFIG = Path(__file__).parent / "segments.default.toml"

OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "in": lambda a, b: a in b,
}
CONDITION = re.compile(r"^\s*([a-z_][a-z0-9_.]*)\s*(==|!=|>=|<=|>|<|in)\s*(.+?)\s*$")
FEATURES = frozenset(
    {
        "orders", "revenue", "aov", "events", "page_views", "product_views", "cart_adds",
        "sessions", "stage", "days_since_last_order", "days_since_last_seen", "coupon_share",
        "price_tier", "avg_price", "rfm_r", "rfm_f", "rfm_m", "cart_value", "cart_items",
        "cart_adds_24h", "min_rating", "mean_rating", "reviews", "top_category",
    }
)  # fmt: skip


FIGURE_FEATURES = frozenset(
    name
    for name, info in ProfileFigures.model_fields.items()
    if name not in FEATURES and info.annotation in (int, float, int | None, float | None, str)
)
SHARED_FIGURES = frozenset({"price_tier", "coupon_share"})
KNOWN = FEATURES | FIGURE_FEATURES
CHOICES: dict[str, tuple[str, ...]] = {"stage": STAGES, "price_tier": ("budget", "mid", "premium")}


class SegmentConfigError(ValueError):
    """A segment rule is invalid; the message names the segment and the condition."""


class ScoreBands(BaseModel):
    """Band edges for the 1-5 RFM scores and the price tiers."""

    recency_days: list[float] = Field(default=[14, 30, 60, 120])
    frequency_orders: list[float] = Field(default=[1, 2, 3, 5])
    monetary_revenue: list[float] = Field(default=[50, 150, 400, 1000])
    budget_below: float = 30
    premium_from: float = 120


@dataclass(frozen=True)
class Condition:
    feature: str
    op: str
    value: Any

    def holds(self, features: dict[str, Any]) -> bool:
        actual = features.get(self.feature)
        if actual is None and self.value is not None:
            return False
        try:
            return bool(OPERATORS[self.op](actual, self.value))
        except TypeError:
            return False


@dataclass(frozen=True)
class Segment:
    name: str
    description: str
    all: tuple[Condition, ...]
    any: tuple[Condition, ...]

    def matches(self, features: dict[str, Any]) -> bool:
        return all(c.holds(features) for c in self.all) and (
            not self.any or any(c.holds(features) for c in self.any)
        )


@dataclass(frozen=True)
class SegmentConfig:
    segments: tuple[Segment, ...]
    bands: ScoreBands


def parse_condition(segment: str, text: str) -> Condition:
    match = CONDITION.match(text)
    if not match:
        raise SegmentConfigError(
            f"segment {segment!r}: cannot read condition {text!r} (expected 'feature op value')"
        )
    feature, op, literal = match.groups()
    if feature not in KNOWN and not feature.startswith("category_views."):
        raise SegmentConfigError(
            f"segment {segment!r}: unknown feature {feature!r} in {text!r}; "
            f"known: {', '.join(sorted(KNOWN))}, category_views.<category>"
        )
    literal = {"true": "True", "false": "False", "null": "None"}.get(literal, literal)
    try:
        value = ast.literal_eval(literal)
    except (ValueError, SyntaxError):
        raise SegmentConfigError(
            f"segment {segment!r}: {literal!r} in {text!r} is not a number, quoted string, "
            "boolean, null or list"
        ) from None
    if op == "in" and not isinstance(value, (list, tuple)):
        raise SegmentConfigError(f"segment {segment!r}: 'in' needs a list in {text!r}")
    check_value(segment, text, feature, value)
    return Condition(feature, op, tuple(value) if isinstance(value, list) else value)


def check_value(segment: str, text: str, feature: str, value: Any) -> None:
    """A value of the wrong kind for its feature (a typo in a stage name) is refused."""
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    allowed = CHOICES.get(feature)
    for item in values:
        if item is None:
            continue
        if feature in CHOICES or feature in ("top_category", "rfm"):
            if not isinstance(item, str):
                raise SegmentConfigError(f"segment {segment!r}: {feature} is text in {text!r}")
            if allowed is not None and item not in allowed:
                raise SegmentConfigError(
                    f"segment {segment!r}: {item!r} is not a {feature} in {text!r}; "
                    f"known: {', '.join(allowed)}"
                )
        elif isinstance(item, bool) or not isinstance(item, (int, float)):
            raise SegmentConfigError(f"segment {segment!r}: {feature} is a number in {text!r}")


def parse_config(data: dict[str, Any]) -> SegmentConfig:
    segments = []
    names: set[str] = set()
    for index, raw in enumerate(data.get("segments", [])):
        name = raw.get("name")
        if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9_]+", name):
            raise SegmentConfigError(f"segment #{index + 1}: 'name' must be snake_case text")
        if name in names:
            raise SegmentConfigError(f"segment {name!r} is declared twice")
        names.add(name)
        unknown = set(raw) - {"name", "description", "all", "any"}
        if unknown:
            raise SegmentConfigError(f"segment {name!r}: unknown keys {sorted(unknown)}")
        if not raw.get("all") and not raw.get("any"):
            raise SegmentConfigError(f"segment {name!r}: needs 'all' or 'any' conditions")
        segments.append(
            Segment(
                name,
                str(raw.get("description", "")),
                tuple(parse_condition(name, c) for c in raw.get("all", [])),
                tuple(parse_condition(name, c) for c in raw.get("any", [])),
            )
        )
    return SegmentConfig(tuple(segments), ScoreBands.model_validate(data.get("bands", {})))


def figures_used(config: SegmentConfig) -> frozenset[str]:
    """The published figures the rules read (empty: the worker need not compute any)."""
    return frozenset(
        c.feature
        for s in config.segments
        for c in (*s.all, *s.any)
        if c.feature in FIGURE_FEATURES or c.feature in SHARED_FIGURES
    )


def load_config(path: Path = DEFAULT_CONFIG) -> SegmentConfig:
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise SegmentConfigError(f"{path}: {exc}") from None
    return parse_config(data)


def band_score(value: float, edges: list[float], higher_is_better: bool = True) -> int:
    """1-5 from four band edges."""
    position = sum(1 for edge in edges if value >= edge)
    score = 1 + position if higher_is_better else 5 - position
    return max(1, min(5, score))


def features(
    profile: Profile,
    now: datetime,
    bands: ScoreBands,
    figures: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The figures segment rules are written against, as of ``now``.

    ``figures`` are the profile's published figures (rolling counts, RFM scores, …), usable
    in rules under their own names.
    """
    counts = profile.counts
    revenue = float(profile.revenue)
    days_since_order = (
        (now - profile.last_order_at).total_seconds() / 86400 if profile.last_order_at else None
    )
    avg_price = float(profile.price_sum) / profile.price_count if profile.price_count else None
    tier = None
    if avg_price is not None:
        tier = (
            "budget"
            if avg_price < bands.budget_below
            else "premium"
            if avg_price >= bands.premium_from
            else "mid"
        )
    found: dict[str, Any] = {
        "orders": profile.orders,
        "revenue": revenue,
        "aov": revenue / profile.orders if profile.orders else None,
        "events": profile.event_count,
        "page_views": counts.get("page_view", 0),
        "product_views": counts.get("product_view", 0),
        "cart_adds": counts.get("cart_add", 0),
        "sessions": profile.session_count,
        "stage": profile.stage,
        "days_since_last_order": days_since_order,
        "days_since_last_seen": (now - profile.last_seen).total_seconds() / 86400
        if profile.last_seen
        else None,
        "coupon_share": profile.coupon_orders / profile.orders if profile.orders else None,
        "price_tier": tier,
        "avg_price": avg_price,
        "rfm_r": band_score(days_since_order, bands.recency_days, higher_is_better=False)
        if days_since_order is not None
        else None,
        "rfm_f": band_score(profile.orders, bands.frequency_orders) if profile.orders else None,
        "rfm_m": band_score(revenue, bands.monetary_revenue) if profile.orders else None,
        "cart_value": float(profile.cart_value),
        "cart_items": sum(profile.cart.values()),
        "cart_adds_24h": sum(
            1 for t in profile.recent_cart_adds if timedelta(0) <= now - t < timedelta(hours=24)
        ),
        "min_rating": profile.min_rating,
        "mean_rating": profile.rating_sum / profile.ratings if profile.ratings else None,
        "reviews": profile.ratings,
        "top_category": max(profile.category_views, key=profile.category_views.__getitem__)
        if profile.category_views
        else None,
    }
    for category, views in profile.category_views.items():
        found[f"category_views.{category}"] = views
    for name, value in (figures or {}).items():
        if name in FIGURE_FEATURES or (name in SHARED_FIGURES and value is not None):
            found[name] = value  # the profile's own figures win over the estimates above
    return found


def memberships(
    profile: Profile,
    now: datetime,
    config: SegmentConfig,
    figures: Mapping[str, Any] | None = None,
) -> list[str]:
    values = features(profile, now, config.bands, figures)
    return sorted(s.name for s in config.segments if s.matches(values))


def update_segments(
    profile: Profile,
    now: datetime,
    cause: str,
    event_id: str | None,
    config: SegmentConfig,
    figures: Mapping[str, Any] | None = None,
) -> tuple[Profile, list[SegmentChange]]:
    """Re-evaluate every segment; entering and leaving are returned as changes."""
    if profile.merged_into is not None:
        return profile, []
    current = memberships(profile, now, config, figures)
    before = set(profile.segments)
    changes = [
        SegmentChange(
            site_id=profile.site_id,
            profile_id=profile.profile_id,
            segment=name,
            change="entered" if name in current else "exited",
            cause=cause,
            event_id=event_id,
            at=now,
        )
        for name in sorted(before.symmetric_difference(current))
    ]
    if not changes:
        return profile, []
    return profile.model_copy(update={"segments": current}), changes


def leave_all(profile: Profile, at: datetime, cause: str) -> list[SegmentChange]:
    """Exits from every segment (a profile merged into another one leaves them all)."""
    return [
        SegmentChange(
            site_id=profile.site_id,
            profile_id=profile.profile_id,
            segment=name,
            change="exited",
            cause=cause,
            at=at,
        )
        for name in profile.segments
    ]
