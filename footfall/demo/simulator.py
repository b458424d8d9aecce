"""A synthetic storefront: shoppers with personas, spread over simulated weeks. Pure.

Everything is generated from a seed, so the same seed gives the same events; the ground
truth of what was sent (per customer counts and revenue) comes with them.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

PERSONAS = {
    "window_shopper": 0.35,
    "bargain_hunter": 0.2,
    "luxury_buyer": 0.1,
    "cart_abandoner": 0.2,
    "loyal_buyer": 0.15,
}

CATEGORIES = {
    "tech": ["Aurora", "Voltic", "Nimbus"],
    "fashion": ["Maison Lune", "Thread & Co", "Basalt"],
    "home": ["Hearthly", "Oakroom", "Nordlys"],
    "beauty": ["Petal", "Lumen", "Verde"],
}
TIER_PRICES = {"budget": (5, 30), "mid": (30, 120), "premium": (120, 900)}
CHANNELS = [
    ({"source": "google", "medium": "cpc", "campaign": "brand"}, 0.3),
    ({"source": "newsletter", "medium": "email", "campaign": "weekly"}, 0.2),
    ({"source": "instagram", "medium": "social", "campaign": "autumn"}, 0.2),
    ({"source": "pricewatch", "medium": "referral", "campaign": "deals"}, 0.1),
    ({}, 0.2),
]
COUPONS = ["SAVE10", "WELCOME5", "FLASH20"]
REVIEW_TEXTS = {
    "high": [
        "Lovely quality, arrived quickly",
        "Exactly as described",
        "Great value, would buy again",
    ],
    "low": [
        "Cheap material, broke after a week",
        "Arrived late and damaged",
        "Poor fit, returning it",
    ],
}
USER_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0 Mobile Safari/537.36",
]


@dataclass(frozen=True)
class Product:
    product_id: str
    name: str
    category: str
    brand: str
    tier: str
    price: Decimal


def catalogue(seed: int = 7) -> list[Product]:
    rng = random.Random(seed)
    products = []
    for category, brands in CATEGORIES.items():
        for tier, (low, high) in TIER_PRICES.items():
            for n in range(4):
                brand = rng.choice(brands)
                price = Decimal(rng.randint(low * 100, high * 100)) / 100
                products.append(
                    Product(
                        f"{category[:2]}-{tier[:1]}{n}",
                        f"{brand} {category} {tier} #{n + 1}",
                        category,
                        brand,
                        tier,
                        price.quantize(Decimal("0.01")),
                    )
                )
    return products


@dataclass
class Truth:
    """What was sent for one customer (or anonymous browser), to check results against."""

    events: int = 0
    orders: int = 0
    revenue: Decimal = Decimal(0)


@dataclass
class Shopper:
    persona: str
    customer_id: str | None
    devices: list[str]
    user_agent: str
    channel: dict[str, str]


@dataclass
class Simulation:
    """Events grouped per shopper, each list in the shopper's time order."""

    browser_events: list[dict[str, Any]] = field(default_factory=list)
    server_events: list[dict[str, Any]] = field(default_factory=list)
    truth: dict[str, Truth] = field(default_factory=dict)
    personas: dict[str, str] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return len(self.browser_events) + len(self.server_events)


class Storefront:
    """Generates the events of one shopper at a time."""

    def __init__(self, seed: int, now: datetime, weeks: int) -> None:
        self.rng = random.Random(seed)
        # Reviews and experiment exposures draw from their own generator, so adding them left
        # every other event of a seed as it was.
        self.extras = random.Random(seed + 1)
        self.now = now
        self.start = now - timedelta(weeks=weeks)
        self.products = catalogue()

    def event(
        self,
        kind: str,
        shopper: Shopper,
        device: str,
        session: str,
        at: datetime,
        properties: dict[str, Any] | None = None,
        identified: bool = False,
        rng: random.Random | None = None,
    ) -> dict[str, Any]:
        bits = (rng or self.rng).getrandbits(128)
        event: dict[str, Any] = {
            "event_id": str(uuid.UUID(int=bits, version=4)),
            "type": kind,
            "anonymous_id": device,
            "session_id": session,
            "occurred_at": at.isoformat(),
            "context": {
                "path": "/" if kind == "page_view" else f"/{kind}",
                "url": f"https://shop.example/{kind}",
                "user_agent": shopper.user_agent,
                "utm": shopper.channel,
                "locale": "en-GB",
            },
        }
        if identified and shopper.customer_id:
            event["customer_id"] = shopper.customer_id
        if properties is not None:
            event["properties"] = properties
        return event

    def pick(self, tier: str | None = None, category: str | None = None) -> Product:
        pool = [
            p
            for p in self.products
            if (tier is None or p.tier == tier) and (category is None or p.category == category)
        ]
        return self.rng.choice(pool)

    def tier_for(self, persona: str) -> str | None:
        if persona == "bargain_hunter":
            return "budget"
        if persona == "luxury_buyer":
            return "premium"
        return None

    def sessions(self, persona: str) -> int:
        low, high = {
            "window_shopper": (1, 3),
            "bargain_hunter": (2, 4),
            "luxury_buyer": (1, 3),
            "cart_abandoner": (1, 3),
            "loyal_buyer": (4, 7),
        }[persona]
        return self.rng.randint(low, high)

    def shop(self, shopper: Shopper, sim: Simulation) -> None:
        """Every session of one shopper, from first visit to last."""
        span = (self.now - self.start).total_seconds()
        count = self.sessions(shopper.persona)
        starts = sorted(
            self.start + timedelta(seconds=self.rng.uniform(0, span * 0.95)) for _ in range(count)
        )
        identified = False
        for index, at in enumerate(starts):
            device = shopper.devices[index % len(shopper.devices)]
            session = f"s-{uuid.UUID(int=self.rng.getrandbits(128), version=4).hex[:16]}"
            identified = self.session(shopper, sim, device, session, at, identified) or identified

    def session(
        self,
        shopper: Shopper,
        sim: Simulation,
        device: str,
        session: str,
        at: datetime,
        identified: bool,
    ) -> bool:
        persona = shopper.persona
        tier = self.tier_for(persona)
        events: list[dict[str, Any]] = []

        def emit(kind: str, props: dict[str, Any] | None = None) -> None:
            nonlocal at
            at += timedelta(seconds=self.rng.randint(5, 90))
            events.append(self.event(kind, shopper, device, session, at, props, identified))

        emit("page_view", {"category": self.rng.choice(list(CATEGORIES))})
        events.append(self.exposure(shopper, device, session, at, identified))
        viewed = [self.pick(tier) for _ in range(self.rng.randint(1, 5))]
        for product in viewed:
            emit("product_view", product_props(product))
            if self.rng.random() < 0.2:
                emit("click", {"element": "button", "text": "Details"})
        if self.rng.random() < 0.15:
            emit("search", {"query": self.rng.choice(["headphones", "lamp", "dress", "serum"])})
        buys = persona in {"bargain_hunter", "luxury_buyer", "loyal_buyer"}
        carts = persona != "window_shopper" and (buys or self.rng.random() < 0.9)
        cart: list[Product] = []
        if carts:
            for product in viewed[: self.rng.randint(1, len(viewed))]:
                emit("cart_add", product_props(product) | {"quantity": 1})
                cart.append(product)
            if len(cart) > 1 and self.rng.random() < 0.3:
                removed = cart.pop()
                emit("cart_remove", product_props(removed) | {"quantity": 1})
        if buys and cart and shopper.customer_id and self.rng.random() < 0.85:
            if not identified:
                identified = True
                emit("identify", None)
                events[-1]["customer_id"] = shopper.customer_id
                events[-1]["properties"] = {"traits": {"persona": persona}}
            emit("checkout_started", {"items": [line(p) for p in cart]})
            sim.server_events.append(self.order(shopper, cart, at + timedelta(seconds=30)))
            if self.extras.random() < 0.35:
                events.append(self.review(shopper, device, session, at, cart[0]))
        elif persona == "cart_abandoner" and cart and self.rng.random() < 0.4:
            emit("checkout_started", {"items": [line(p) for p in cart]})
        sim.browser_events.extend(events)
        return identified

    def exposure(
        self, shopper: Shopper, device: str, session: str, at: datetime, identified: bool
    ) -> dict[str, Any]:
        """The home page's A/B test: a device keeps its variant."""
        variant = "B" if sum(device.encode()) % 2 else "A"
        props = {"experiment": "free_shipping_banner", "variant": variant}
        return self.extra_event(
            "experiment_exposure", shopper, device, session, at, props, identified
        )

    def review(
        self, shopper: Shopper, device: str, session: str, at: datetime, product: Product
    ) -> dict[str, Any]:
        """A review of a bought product; bargain hunters are the hardest to please."""
        low = shopper.persona == "bargain_hunter" and self.extras.random() < 0.5
        rating = self.extras.randint(1, 2) if low else self.extras.randint(3, 5)
        text = self.extras.choice(REVIEW_TEXTS["low" if low else "high"])
        props = {"product_id": product.product_id, "rating": rating, "text": text}
        return self.extra_event(
            "review", shopper, device, session, at + timedelta(minutes=2), props, True
        )

    def extra_event(
        self,
        kind: str,
        shopper: Shopper,
        device: str,
        session: str,
        at: datetime,
        props: dict[str, Any],
        identified: bool,
    ) -> dict[str, Any]:
        return self.event(kind, shopper, device, session, at, props, identified, self.extras)

    def order(self, shopper: Shopper, cart: list[Product], at: datetime) -> dict[str, Any]:
        subtotal = sum((p.price for p in cart), Decimal(0))
        coupon = None
        discount = Decimal(0)
        if shopper.persona == "bargain_hunter" or self.rng.random() < 0.1:
            coupon = self.rng.choice(COUPONS)
            discount = (subtotal * Decimal("0.1")).quantize(Decimal("0.01"))
        shipping = Decimal("4.90") if subtotal < 50 else Decimal(0)
        total = subtotal - discount + shipping
        properties: dict[str, Any] = {
            "order_id": f"o-{uuid.UUID(int=self.rng.getrandbits(128), version=4).hex[:12]}",
            "items": [line(p) for p in cart],
            "subtotal": str(subtotal),
            "discount": str(discount),
            "shipping": str(shipping),
            "total": str(total),
            "currency": "EUR",
            "payment_method": self.rng.choice(["card", "paypal", "klarna"]),
        }
        if coupon:
            properties["coupon"] = coupon
        return {
            "event_id": str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
            "type": "order_placed",
            "anonymous_id": f"server-{shopper.customer_id}",
            "customer_id": shopper.customer_id,
            "session_id": self.session_of(at),
            "occurred_at": at.isoformat(),
            "properties": properties,
        }

    def session_of(self, at: datetime) -> str:
        return f"server-{at.date().isoformat()}"


def product_props(product: Product) -> dict[str, Any]:
    return {
        "product_id": product.product_id,
        "name": product.name,
        "category": product.category,
        "brand": product.brand,
        "price": str(product.price),
        "currency": "EUR",
    }


def line(product: Product) -> dict[str, Any]:
    return {
        "product_id": product.product_id,
        "name": product.name,
        "category": product.category,
        "brand": product.brand,
        "price": str(product.price),
        "quantity": 1,
    }


def simulate(
    shoppers: int = 300, seed: int = 42, weeks: int = 6, now: datetime | None = None
) -> Simulation:
    """Events of ``shoppers`` simulated shoppers over ``weeks`` weeks before ``now``."""
    store = Storefront(seed, now or datetime.now(UTC), weeks)
    rng = store.rng
    sim = Simulation()
    names, weights = zip(*PERSONAS.items(), strict=True)
    for n in range(shoppers):
        persona = rng.choices(names, weights)[0]
        buys = persona in {"bargain_hunter", "luxury_buyer", "loyal_buyer", "cart_abandoner"}
        customer = f"cust-{n:04d}" if buys else None
        devices = [f"dev-{n:04d}-a"] + ([f"dev-{n:04d}-b"] if persona == "loyal_buyer" else [])
        channel = rng.choices([c for c, _ in CHANNELS], [w for _, w in CHANNELS])[0]
        shopper = Shopper(persona, customer, devices, rng.choice(USER_AGENTS), channel)
        first_browser, first_server = len(sim.browser_events), len(sim.server_events)
        store.shop(shopper, sim)
        mine = sim.browser_events[first_browser:] + sim.server_events[first_server:]
        record_truth(sim, mine, persona)
    return sim


def record_truth(sim: Simulation, events: list[dict[str, Any]], persona: str) -> None:
    """Where one shopper's events must end up.

    A device's events belong to the customer once that device has sent one identified
    event (its anonymous history is merged then); otherwise to the device's own profile.
    """
    linked = {e["anonymous_id"]: e["customer_id"] for e in events if e.get("customer_id")}
    for event in events:
        device = event["anonymous_id"]
        key = linked.get(device) or f"anon-{device}"
        truth = sim.truth.setdefault(key, Truth())
        sim.personas[key] = persona
        truth.events += 1
        if event["type"] == "order_placed":
            truth.orders += 1
            truth.revenue += Decimal(event["properties"]["total"])


def batches(events: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(events), size):
        yield events[start : start + size]
