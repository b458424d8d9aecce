"""From an input record to the deliveries it causes, keeping the local cache up to date."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import orjson
from pydantic import ValidationError

from base.config import Topics
from schemas.consent import Consent, marketing_withdrawn
from schemas.webhooks import Delivery, ProfileSummary, Subscription
from webhooks.deliveries import new_delivery
from webhooks.settings import DeliveryPolicy
from webhooks.state import DispatcherState
from webhooks.summary import (
    apply_cart,
    clean_traits,
    last_order_of,
    revealed,
    summarize,
    without_personal,
)
from webhooks.triggers import (
    BadInput,
    Trigger,
    first_order,
    journey_trigger,
    order_triggers,
    profile_id_of,
    review_trigger,
    segment_trigger,
    wants,
    when,
)

log = logging.getLogger("footfall.webhooks")

CART_EVENTS = frozenset({"cart_add", "cart_remove", "checkout_started", "order_placed"})


def event_denies_marketing(event: dict[str, Any]) -> bool:
    """Whether an event (as JSON) carries a marketing denial in its ``context.consent`` (read
    as the collector does, so an old record's ``false`` counts too)."""
    context = event.get("context")
    signal = context.get("consent") if isinstance(context, dict) else None
    if signal is None:
        return False
    try:
        return Consent.model_validate(signal).marketing is False
    except ValidationError:
        return False


class Intake:
    def __init__(
        self,
        topics: Topics,
        state: DispatcherState,
        policy: DeliveryPolicy,
        keys: Callable[[str], bytes | None] = lambda _: None,
    ) -> None:
        self.topics = topics
        self.state = state
        self.policy = policy
        self.keys = keys  # a site's personal-data key, for sealed traits

    def triggers(self, topic: str, value: bytes | None) -> list[Trigger]:
        """Update the cache from one record and return the triggers it causes."""
        if value is None:
            return []
        try:
            message = orjson.loads(value)
            if not isinstance(message, dict):
                raise BadInput("not a JSON object")
            if topic == self.topics.journey:
                return [journey_trigger(message)]
            if topic == self.topics.segments:
                trigger = segment_trigger(message)
                if self.state.is_erased(trigger.site_id, str(trigger.profile_id)):
                    return []
                self.state.set_membership(
                    trigger.site_id,
                    str(trigger.profile_id),
                    str(trigger.segment),
                    message["change"] == "entered",
                )
                return [trigger]
            if topic == self.topics.events:
                return self.from_event(message)
        except (orjson.JSONDecodeError, BadInput, KeyError) as exc:
            log.warning("skipped a record on %s: %s", topic, exc)
        return []

    def from_event(self, event: dict[str, Any]) -> list[Trigger]:
        site = str(event.get("site_id", ""))
        kind = event.get("type")
        anonymous = str(event.get("anonymous_id", ""))
        customer = event.get("customer_id")
        if self.state.is_erased(site, anonymous) or (
            customer and self.state.is_erased(site, str(customer))
        ):
            return []  # an erased customer's event still in flight
        if customer and anonymous and self.state.linked(site, anonymous) is None:
            self.state.link(site, anonymous, str(customer))
            self.move_cart(site, f"anon-{anonymous}", str(customer))
        profile_id = profile_id_of(event, self.state.linked(site, anonymous))
        if kind in CART_EVENTS:
            cart = apply_cart(self.state.cart(site, profile_id), event)
            self.state.set_cart(site, profile_id, cart)
        if kind == "identify":
            traits = clean_traits((event.get("properties") or {}).get("traits"))
            if traits:
                self.state.merge_traits(site, profile_id, traits)
        if event_denies_marketing(event):
            return []  # the event itself withdraws (or never gave) marketing consent
        if kind == "order_placed":
            order = last_order_of(event)
            if order is None:
                raise BadInput("order without id or total")
            recorded = self.state.record_order(site, profile_id, order)
            snapshot = self.state.profile(site, profile_id)
            first = first_order(recorded, snapshot, when(event.get("occurred_at")))
            return order_triggers(event, profile_id, first)
        if kind == "review":
            return review_trigger(event, profile_id, self.policy.low_rating_max)
        return []

    def withdrawn(self, site: str, profile_id: str | None) -> bool:
        """Whether the latest snapshot of the profile says marketing consent is withdrawn."""
        return profile_id is not None and marketing_withdrawn(self.state.profile(site, profile_id))

    def move_cart(self, site: str, from_profile: str, to_profile: str) -> None:
        held = self.state.cart(site, from_profile)
        if held.items and not self.state.cart(site, to_profile).items:
            self.state.set_cart(site, to_profile, held)

    def summary(self, site: str, profile_id: str | None) -> ProfileSummary | None:
        if profile_id is None:
            return None
        snapshot = self.state.profile(site, profile_id)
        cart = self.state.cart(site, profile_id)
        if not cart.items and snapshot:
            for anonymous in snapshot.get("anonymous_ids") or []:
                cart = self.state.cart(site, f"anon-{anonymous}")
                if cart.items:
                    break
        return summarize(
            profile_id,
            snapshot,
            self.state.segments(site, profile_id),
            cart,
            self.state.traits(site, profile_id),
            self.state.last_order(site, profile_id),
        )

    def deliveries(
        self, triggers: list[Trigger], subscriptions: list[Subscription], now: datetime
    ) -> list[Delivery]:
        made = []
        for trigger in triggers:
            chosen = [s for s in subscriptions if wants(s, trigger)]
            if not chosen:
                continue
            about = trigger.profile_id
            if about is not None and self.state.is_erased(trigger.site_id, about):
                continue  # its customer was erased while the trigger was in flight
            if self.withdrawn(trigger.site_id, about):
                continue
            profile = self.summary(trigger.site_id, trigger.profile_id)
            for subscription in chosen:
                shown = profile
                if profile is not None and not subscription.personal_traits:
                    shown = without_personal(profile)
                elif profile is not None:
                    shown = revealed(profile, self.keys(trigger.site_id), trigger.site_id)
                delivery = new_delivery(subscription, trigger, shown, self.policy.max_attempts, now)
                self.state.keep(delivery)
                if about is not None:
                    self.state.add_recipient(trigger.site_id, about, delivery)
                made.append(delivery)
        return made
