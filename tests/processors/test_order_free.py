"""Order-free, exactly-once profiles: any arrival order, any duplication, any split over an
anonymous and a customer profile gives the figures of the sorted, deduplicated history.

The reference model below computes those figures from the events in time order, with none
of the worker's code; the worker's pure functions (``apply_event``, ``absorb``) must agree
with it for random histories, permutations and duplications (hypothesis).
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.events import Envelope, parse_event
from schemas.profile import Profile
from stream_processors.merging import absorb
from stream_processors.messages import EventMessage, TickMessage
from stream_processors.profile import apply_event, new_profile, short_id
from stream_processors.profile_step import Applied, StepConfig, step
from stream_processors.rules import ProfileRules
from tests.processors.events import T0

RULES = ProfileRules()
PRODUCTS = ("p1", "p2", "p3")
RECEIVED = T0 + timedelta(days=40)  # every copy is received within the dedup window


@dataclass(frozen=True)
class Step:
    kind: str
    minute: int
    session: int
    product: str = "p1"
    quantity: int = 1
    price: int = 0
    total: int = 0
    source: str | None = None


steps = st.one_of(
    st.builds(
        Step,
        kind=st.sampled_from(["page_view", "checkout_started", "click"]),
        minute=st.integers(0, 600),
        session=st.integers(0, 5),
        source=st.sampled_from([None, None, "newsletter", "google"]),
    ),
    st.builds(
        Step,
        kind=st.sampled_from(["cart_add", "cart_remove"]),
        minute=st.integers(0, 600),
        session=st.integers(0, 5),
        product=st.sampled_from(PRODUCTS),
        quantity=st.integers(1, 3),
        price=st.integers(0, 90),
    ),
    st.builds(
        Step,
        kind=st.sampled_from(["order_placed", "order_refunded"]),
        minute=st.integers(0, 600),
        session=st.integers(0, 5),
        total=st.integers(1, 500),
    ),
)


def event_of(step: Step, event_id: uuid.UUID) -> Envelope:
    body: dict[str, Any] = {
        "event_id": str(event_id),
        "type": step.kind,
        "site_id": "shop",
        "anonymous_id": "browser-1",
        "session_id": f"s{step.session}",
        "occurred_at": (T0 + timedelta(minutes=step.minute * 7)).isoformat(),
        "received_at": RECEIVED.isoformat(),
    }
    if step.source:
        body["context"] = {"utm": {"source": step.source, "medium": "email"}}
    if step.kind in ("cart_add", "cart_remove"):
        body["properties"] = {
            "product_id": step.product,
            "quantity": step.quantity,
            "price": str(step.price),
        }
    elif step.kind == "order_placed":
        body["properties"] = {"order_id": str(event_id), "total": str(step.total)}
        body["properties"]["currency"] = "EUR"
    elif step.kind == "order_refunded":
        body["properties"] = {"order_id": "o", "amount": str(step.total), "currency": "EUR"}
    return parse_event(body)


@dataclass
class Reference:
    """The figures of a history, computed in time order from its distinct events."""

    counts: Counter[str] = field(default_factory=Counter)
    sessions: set[str] = field(default_factory=set)
    orders: int = 0
    revenue: Decimal = Decimal(0)
    refunds: int = 0
    cart: dict[str, int] = field(default_factory=dict)
    cart_value: Decimal = Decimal(0)
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    order_times: list[datetime] = field(default_factory=list)
    order_hours: Counter[str] = field(default_factory=Counter)


def reference(events: list[Envelope]) -> Reference:
    distinct = {event.event_id: event for event in events}.values()

    def when(event: Envelope) -> tuple[datetime, int, str]:
        # At one instant an order comes after the cart changes it empties.
        return event.occurred_at, event.type == "order_placed", short_id(str(event.event_id))

    ref = Reference()
    for event in sorted(distinct, key=when):
        ref.counts[event.type] += 1
        if event.session_id:
            ref.sessions.add(event.session_id)
        ref.first_seen = ref.first_seen or event.occurred_at
        ref.last_seen = event.occurred_at
        props: Any = getattr(event, "properties", None)
        if event.type in ("cart_add", "cart_remove"):
            sign = 1 if event.type == "cart_add" else -1
            left = max(0, ref.cart.get(props.product_id, 0) + sign * props.quantity)
            ref.cart = {k: v for k, v in (ref.cart | {props.product_id: left}).items() if v}
            value = ref.cart_value + sign * props.price * props.quantity
            ref.cart_value = max(Decimal(0), value) if ref.cart else Decimal(0)
        elif event.type == "order_placed":
            ref.orders += 1
            ref.revenue += props.total
            ref.cart, ref.cart_value = {}, Decimal(0)
            ref.order_times.append(event.occurred_at)
            ref.order_hours[str(event.occurred_at.hour)] += 1
        elif event.type == "order_refunded":
            ref.refunds += 1
            ref.revenue -= props.amount
    return ref


def agrees(profile: Profile, ref: Reference) -> None:
    assert profile.counts == dict(ref.counts)
    assert profile.event_count == sum(ref.counts.values())
    assert profile.session_count == len(ref.sessions)
    assert (profile.orders, profile.revenue, profile.refunds) == (
        ref.orders,
        ref.revenue,
        ref.refunds,
    )
    assert (profile.cart, profile.cart_value) == (ref.cart, ref.cart_value)
    assert (profile.first_seen, profile.last_seen) == (ref.first_seen, ref.last_seen)
    assert profile.order_times == sorted(ref.order_times)[-24:]
    assert profile.order_hours == dict(ref.order_hours)


def fold(events: list[Envelope], profile_id: str = "c1") -> Profile:
    profile = new_profile("shop", profile_id)
    for offset, event in enumerate(events):
        profile = apply_event(profile, event, source=(offset % 3, offset), rules=RULES)
    return profile


histories = st.lists(st.tuples(steps, st.uuids()), min_size=1, max_size=40)


@settings(max_examples=300, deadline=None)
@given(history=histories, data=st.data())
def test_any_arrival_order_and_duplication_gives_the_time_ordered_figures(
    history: list[tuple[Step, uuid.UUID]], data: st.DataObject
) -> None:
    events = [event_of(planned, event_id) for planned, event_id in history]
    copies = data.draw(st.lists(st.sampled_from(events), max_size=20), label="duplicates")
    arrival = data.draw(st.permutations([*events, *copies]), label="arrival")
    profile = fold(arrival)
    agrees(profile, reference(events))
    in_time = fold(sorted(events, key=lambda e: e.occurred_at))
    assert (profile.first_touch, profile.last_touch) == (in_time.first_touch, in_time.last_touch)


@settings(max_examples=200, deadline=None)
@given(history=histories, data=st.data())
def test_a_history_split_over_anonymous_and_customer_profiles_merges_to_the_same_figures(
    history: list[tuple[Step, uuid.UUID]], data: st.DataObject
) -> None:
    """Events before and after identification, merged once, then retries of any of them.

    Not covered (and not order-free): one event delivered both before and after its
    browser was identified (a retry spanning the identify) counts on both profiles.
    """
    events = [event_of(planned, event_id) for planned, event_id in history]
    anonymous = data.draw(st.lists(st.sampled_from(events), max_size=40), label="anonymous")
    rest = [e for e in events if e not in anonymous]
    customer = data.draw(st.permutations(rest), label="customer")
    merged = absorb(fold(customer, "c1"), fold(anonymous, "anon-browser-1"), "merge:x")
    agrees(merged, reference(events))
    again = absorb(merged, fold(anonymous, "anon-browser-1"), "merge:x")
    assert again is merged
    for late in data.draw(st.lists(st.sampled_from(events), max_size=5), label="late copies"):
        assert apply_event(merged, late, rules=RULES) is merged


CONFIG = StepConfig()


def stepped(events: list[Envelope]) -> Profile:
    """The events through the worker's whole pure step: timers, profile, journey, segments."""
    profile = new_profile("shop", "c1")
    for offset, event in enumerate(events):
        message = EventMessage(
            kind="event", site_id="shop", profile_id="c1", event=event, source=(0, offset)
        )
        outcome = step(profile, message, CONFIG, event.occurred_at, 0.0)
        if isinstance(outcome, Applied):
            profile = outcome.after
    return profile


def ticked(profile: Profile, now: datetime) -> Profile:
    message = TickMessage(kind="tick", site_id="shop", profile_id="c1", now=now)
    outcome = step(profile, message, CONFIG, now, 0.0)
    return outcome.after if isinstance(outcome, Applied) else profile


short_histories = st.lists(
    st.tuples(steps.map(lambda s: replace(s, minute=s.minute % 4)), st.uuids()),
    min_size=1,
    max_size=15,
).filter(lambda history: sum(s.kind == "order_placed" for s, _ in history) <= 1)


@settings(max_examples=300, deadline=None)
@given(history=short_histories, data=st.data())
def test_the_journey_stage_follows_the_events_not_their_arrival(
    history: list[tuple[Step, uuid.UUID]], data: st.DataObject
) -> None:
    """Where the events alone decide the stage (within 21 minutes, at most one order, so no
    timer falls due between them), any arrival order gives the stage of the time order; and
    the timers due two hours later (cart or checkout abandoned) agree too."""
    events = [event_of(planned, event_id) for planned, event_id in history]
    copies = data.draw(st.lists(st.sampled_from(events), max_size=5), label="duplicates")
    arrival = data.draw(st.permutations([*events, *copies]), label="arrival")
    in_time = stepped(sorted(events, key=lambda e: (e.occurred_at, short_id(str(e.event_id)))))
    shuffled = stepped(arrival)
    assert shuffled.stage == in_time.stage
    later = T0 + timedelta(hours=2)
    assert ticked(shuffled, later).stage == ticked(in_time, later).stage
