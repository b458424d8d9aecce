"""The storefront snippet in real Chromium against the real collector and broker."""

from __future__ import annotations

import time
from typing import Any

import pytest

from footfall.stack import Stack
from tests.browser.conftest import kafka_events, wait_for_events

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.timeout(180)]

PAGE = """<!doctype html>
<html><head><title>{title}</title>
<script src="/v1/footfall.js"></script>
<script>footfall.init("demo-write-key", {options});</script>
</head><body>
<h1>{title}</h1>
<a id="away" href="/test/elsewhere.html">leave</a>
<button id="buy" data-footfall-event="cta">Buy</button>
</body></html>"""


def serve_pages(page: Any, stack: Stack, options: str = "{}") -> str:
    """Test pages served at the collector's own origin (through the browser's router)."""
    base = stack.settings.collector_url

    def fulfil(route: Any) -> None:
        title = route.request.url.rsplit("/", 1)[-1].split("?")[0]
        route.fulfill(body=PAGE.format(title=title, options=options), content_type="text/html")

    page.route(f"{base}/test/**", fulfil)
    return base


def anonymous_id(page: Any) -> str:
    value: str = page.evaluate("footfall.anonymousId()")
    return value


def of(browser_id: str) -> Any:
    return lambda event: event["anonymous_id"] == browser_id


CLIENT_FIELDS = ("type", "anonymous_id", "customer_id", "session_id", "properties")


def client_part(event: dict[str, Any]) -> dict[str, Any]:
    return {name: event.get(name) for name in CLIENT_FIELDS}


def test_page_views_carry_ids_session_and_first_touch_utm(page: Any, stack: Stack) -> None:
    base = serve_pages(page, stack, "{flushInterval: 200}")
    page.goto(f"{base}/test/landing.html?utm_source=newsletter&utm_medium=email&utm_campaign=fall")
    page.evaluate("footfall.page()")
    browser_id = anonymous_id(page)
    page.goto(f"{base}/test/product.html")
    page.evaluate(
        "footfall.productView({product_id: 'p1', name: 'Lamp', category: 'home', price: '49.90'})"
    )
    page.evaluate("footfall.cartAdd({product_id: 'p1', price: '49.90', quantity: 1})")
    page.evaluate("footfall.identify('cust-42', {email: 'a@example.com'})")
    page.evaluate("footfall.flush()")

    # At least once: a retry the collector could not tell from a first try (both in flight
    # at once on a busy machine) is the same event again: the same id and what the client
    # sent (the server stamps each try's own receipt time and the skew it corrects by).
    sent = wait_for_events(stack, of(browser_id), count=4)
    events = list({e["event_id"]: e for e in sent}.values())
    first = {e["event_id"]: client_part(e) for e in events}
    assert all(client_part(e) == first[e["event_id"]] for e in sent)
    kinds = [e["type"] for e in events]
    assert {"page_view", "product_view", "cart_add", "identify"} <= set(kinds)
    assert len(kinds) == len(set(kinds))  # one event id per call
    assert len({e["session_id"] for e in events}) == 1
    assert all(e["site_id"] == "demo" for e in events)
    for event in events:
        assert event["context"]["utm"]["source"] == "newsletter", event
    identify = next(e for e in events if e["type"] == "identify")
    assert identify["customer_id"] == "cust-42"


def test_the_last_events_before_navigating_away_are_delivered(page: Any, stack: Stack) -> None:
    base = serve_pages(page, stack, "{flushInterval: 60000, batchSize: 100}")
    page.goto(f"{base}/test/cart.html")
    browser_id = anonymous_id(page)
    page.evaluate("for (let i = 0; i < 30; i++) footfall.track('click', {element: 'item-' + i})")
    page.evaluate("footfall.track('click', {element: 'last-before-leaving'})")
    page.click("#away")
    page.wait_for_url("**/elsewhere.html")

    events = wait_for_events(stack, of(browser_id), count=31)
    elements = [e.get("properties", {}).get("element") for e in events if e["type"] == "click"]
    assert "last-before-leaving" in elements
    assert {f"item-{i}" for i in range(30)} <= set(elements)


def test_events_wait_while_the_collector_is_down(page: Any, stack: Stack) -> None:
    base = serve_pages(page, stack, "{flushInterval: 300}")
    page.goto(f"{base}/test/shop.html")
    browser_id = anonymous_id(page)
    stack.kill("collector")
    for n in range(5):
        page.evaluate(f"footfall.track('click', {{element: 'offline-{n}'}})")
    time.sleep(2)  # sends fail meanwhile; the events stay queued in the page
    assert kafka_events(stack, of(browser_id)) == []
    stack.restart("collector")

    events = wait_for_events(stack, of(browser_id), count=5, timeout=90)
    elements = {e.get("properties", {}).get("element") for e in events}
    assert {f"offline-{n}" for n in range(5)} <= elements
    assert len(events) == len({e["event_id"] for e in events})


def test_nothing_is_sent_before_consent(page: Any, stack: Stack) -> None:
    base = serve_pages(page, stack, "{flushInterval: 200, requireConsent: true}")
    page.goto(f"{base}/test/consent.html")
    browser_id = anonymous_id(page)
    page.evaluate("footfall.track('click', {element: 'before-consent'})")
    page.evaluate("footfall.flush()")
    time.sleep(2)
    assert kafka_events(stack, of(browser_id)) == []

    page.evaluate("footfall.consent(true)")
    page.evaluate("footfall.track('click', {element: 'after-consent'})")
    page.evaluate("footfall.flush()")
    events = wait_for_events(stack, of(browser_id), count=1)
    elements = {e.get("properties", {}).get("element") for e in events}
    assert "after-consent" in elements


def test_consent_by_purpose_travels_with_events_and_a_withdrawal_is_sent(
    page: Any, stack: Stack
) -> None:
    base = serve_pages(page, stack, "{flushInterval: 200, requireConsent: true}")
    page.goto(f"{base}/test/purposes.html")
    browser_id = anonymous_id(page)
    page.evaluate(
        "footfall.consent({analytics_storage: 'granted', ad_storage: 'denied'});"
        "footfall.track('click', {element: 'no-marketing'}); footfall.flush()"
    )
    events = wait_for_events(stack, of(browser_id), count=2)
    assert all(e["context"]["consent"] == {"analytics": True, "marketing": False} for e in events)
    assert {e["properties"].get("name") for e in events} >= {"consent"}

    page.evaluate("footfall.consent(false)")  # withdrawn: said once, then the ids are gone
    events = wait_for_events(stack, of(browser_id), count=3)
    (withdrawal,) = [e for e in events if e["context"]["consent"]["analytics"] is False]
    assert withdrawal["properties"]["name"] == "consent"
    assert page.evaluate("footfall.anonymousId()") is None


def test_a_shopper_browses_buys_and_is_identified_in_the_demo_shop(page: Any, stack: Stack) -> None:
    shop = f"{stack.settings.collector_url}/shop"
    page.goto(f"{shop}/index.html?utm_source=instagram&utm_medium=social&utm_campaign=autumn")
    page.wait_for_function("window.footfall && window.footfall.anonymousId")
    browser_id = anonymous_id(page)
    page.click("text=Aurora Speaker")
    page.click("#add")
    page.click("text=View cart")
    page.click("#to-checkout")
    page.goto(f"{shop}/login.html")
    page.fill("#email", "alex@example.com")
    page.click("#sign-in")
    page.wait_for_url("**/index.html")
    page.goto(f"{shop}/checkout.html")
    page.click("#place-order")
    page.wait_for_url("**/index.html?ordered=*")

    events = wait_for_events(stack, of(browser_id), count=9, timeout=45)
    kinds = [e["type"] for e in events]
    for kind in (
        "page_view",
        "product_view",
        "cart_add",
        "checkout_started",
        "identify",
        "order_placed",
    ):
        assert kind in kinds, kinds
    assert len({e["session_id"] for e in events}) == 1
    assert {e["context"]["utm"].get("source") for e in events} == {"instagram"}
    order = next(e for e in events if e["type"] == "order_placed")
    assert order["customer_id"] == "alex@example.com"
    assert order["verified"] is False  # browser orders are not trusted as money events
    assert order["properties"]["items"][0]["product_id"] == "te-m0"
