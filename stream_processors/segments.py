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

from schemas.profile import STAGES, Profile, ProfileFigures
from schemas.segments import SegmentChange
from stream_processors.rules import DEFAULT_RULES, ProfileRules
from stream_processors.scores import (
    average_order_value,
    average_price,
    coupon_share,
    days_since_last_order,
    mean_rating,
    price_tier,
    rfm,
)

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
        "recency_score", "frequency_score", "monetary_score", "rfm",
    }
)  # fmt: skip
"""Computed here; the RFM scores, ``price_tier`` and ``coupon_share`` by the definitions the
published figures use (:mod:`.scores`)."""


FIGURE_FEATURES = frozenset(
    name
    for name, info in ProfileFigures.model_fields.items()
    if name not in FEATURES and info.annotation in (int, float, int | None, float | None, str)
)
KNOWN = FEATURES | FIGURE_FEATURES
CHOICES: dict[str, tuple[str, ...]] = {"stage": STAGES, "price_tier": ("budget", "mid", "premium")}


class SegmentConfigError(ValueError):
    """A segment rule is invalid; the message names the segment and the condition."""


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


BANDS_MOVED = (
    "the [bands] section is no longer read from a segments file: the RFM bands and price "
    "tier cut points are the worker's profile rules, shared with the published figures. "
    "Delete [bands] and set them with FOOTFALL_RULES (JSON), e.g. FOOTFALL_RULES="
    '\'{"recency_bands_days": [14, 30, 90, 180], "frequency_bands": [1, 2, 4, 8], '
    '"monetary_bands": [50, 150, 400, 1000], "budget_price_below": 30, '
    '"premium_price_above": 120}\' (a score rises above each cut point; see the README, '
    "Segments)"
)


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
    if "bands" in data:
        raise SegmentConfigError(BANDS_MOVED)
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
    return SegmentConfig(tuple(segments))


def figures_used(config: SegmentConfig) -> frozenset[str]:
    """The published figures the rules read (empty: the worker need not compute any)."""
    return frozenset(
        c.feature for s in config.segments for c in (*s.all, *s.any) if c.feature in FIGURE_FEATURES
    )


def load_config(path: Path = DEFAULT_CONFIG) -> SegmentConfig:
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise SegmentConfigError(f"{path}: {exc}") from None
    if "bands" in data:
        raise SegmentConfigError(f"{path}: {BANDS_MOVED}")
    return parse_config(data)


def features(
    profile: Profile,
    now: datetime,
    rules: ProfileRules = DEFAULT_RULES,
    figures: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The figures segment rules are written against, as of ``now``.

    ``figures`` are the profile's other published figures (rolling counts, order intervals,
    …), usable in rules under their own names. ``rfm_r``/``rfm_f``/``rfm_m`` are the
    published scores of a buyer and unknown (null) before the first order, so that no RFM
    class holds a visitor; ``aov`` is the published average order value, null without an
    order in a currency with a rate.
    """
    counts = profile.counts
    revenue = float(profile.revenue)
    scores = rfm(profile, now, rules)
    buyer = profile.orders > 0
    priced = profile.orders > profile.unconverted_orders
    found: dict[str, Any] = {
        "orders": profile.orders,
        "revenue": revenue,
        "aov": float(average_order_value(profile)) if priced else None,
        "events": profile.event_count,
        "page_views": counts.get("page_view", 0),
        "product_views": counts.get("product_view", 0),
        "cart_adds": counts.get("cart_add", 0),
        "sessions": profile.session_count,
        "stage": profile.stage,
        "days_since_last_order": days_since_last_order(profile, now),
        "days_since_last_seen": (now - profile.last_seen).total_seconds() / 86400
        if profile.last_seen
        else None,
        "coupon_share": coupon_share(profile),
        "price_tier": price_tier(profile, rules),
        "avg_price": average_price(profile),
        "recency_score": scores.recency,
        "frequency_score": scores.frequency,
        "monetary_score": scores.monetary,
        "rfm": scores.code,
        "rfm_r": scores.recency if buyer else None,
        "rfm_f": scores.frequency if buyer else None,
        "rfm_m": scores.monetary if buyer else None,
        "cart_value": float(profile.cart_value),
        "cart_items": sum(profile.cart.values()),
        "cart_adds_24h": sum(
            1 for t in profile.recent_cart_adds if timedelta(0) <= now - t < timedelta(hours=24)
        ),
        "min_rating": profile.min_rating,
        "mean_rating": mean_rating(profile),
        "reviews": profile.ratings,
        "top_category": max(profile.category_views, key=profile.category_views.__getitem__)
        if profile.category_views
        else None,
    }
    for category, views in profile.category_views.items():
        found[f"category_views.{category}"] = views
    for name, value in (figures or {}).items():
        if name in FIGURE_FEATURES:
            found[name] = value
    return found


def memberships(
    profile: Profile,
    now: datetime,
    config: SegmentConfig,
    rules: ProfileRules = DEFAULT_RULES,
    figures: Mapping[str, Any] | None = None,
) -> list[str]:
    values = features(profile, now, rules, figures)
    return sorted(s.name for s in config.segments if s.matches(values))


def update_segments(
    profile: Profile,
    now: datetime,
    cause: str,
    event_id: str | None,
    config: SegmentConfig,
    rules: ProfileRules = DEFAULT_RULES,
    figures: Mapping[str, Any] | None = None,
) -> tuple[Profile, list[SegmentChange]]:
    """Re-evaluate every segment; entering and leaving are returned as changes."""
    if profile.merged_into is not None:
        return profile, []
    current = memberships(profile, now, config, rules, figures)
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
