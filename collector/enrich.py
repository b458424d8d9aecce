"""Enrichment at the edge: what the server adds to an event's context. Pure functions.

Whether a user agent is a crawler is ``crawlerdetect``'s judgement (a maintained list of
crawler, HTTP library and headless-browser agents), not a word list of our own; ua-parser's
``Spider`` device counts too.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Any

from crawlerdetect import CrawlerDetect  # type: ignore[import-untyped]
from ua_parser import parse as parse_user_agent

MOBILE_OS = frozenset({"iOS", "Android", "Windows Phone", "KaiOS"})
TABLET_WORDS = ("iPad", "Tablet", "Kindle", "Nexus 7", "Nexus 9", "SM-T")


def truncate_ip(ip: str | None) -> str | None:
    """IPv4 to its /24, IPv6 to its /48, so no full address is ever stored."""
    if not ip:
        return None
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    prefix = 24 if address.version == 4 else 48
    network = ipaddress.ip_network(f"{address}/{prefix}", strict=False)
    return str(network.network_address)


@lru_cache(maxsize=1)
def crawler_detector() -> CrawlerDetect:
    """One detector per process: building it compiles the library's patterns."""
    return CrawlerDetect()


def is_crawler(user_agent: str) -> bool:
    return bool(crawler_detector().is_crawler(user_agent))


@lru_cache(maxsize=4096)
def describe_device(user_agent: str | None) -> dict[str, Any]:
    """Device type, browser and OS from a user agent string (cached: agents repeat)."""
    if not user_agent:
        return {"type": "other", "is_bot": False}
    parsed = parse_user_agent(user_agent)
    browser = parsed.user_agent.family if parsed.user_agent else None
    os_name = parsed.os.family if parsed.os else None
    device = parsed.device.family if parsed.device else None
    is_bot = device == "Spider" or is_crawler(user_agent)
    if is_bot:
        kind = "bot"
    elif any(word in user_agent for word in TABLET_WORDS):
        kind = "tablet"
    elif os_name in MOBILE_OS or "Mobile" in user_agent:
        kind = "mobile"
    elif os_name in {"Windows", "Mac OS X", "Linux", "Ubuntu", "Chrome OS", "Fedora"}:
        kind = "desktop"
    else:
        kind = "other"
    return {"type": kind, "browser": browser, "os": os_name, "is_bot": is_bot}


def server_context(
    client_ip: str | None, user_agent: str | None, country: str | None = None
) -> dict[str, Any]:
    """Context fields set by the collector (they override whatever the client sent)."""
    context: dict[str, Any] = {"ip": truncate_ip(client_ip), "country": country}
    if user_agent:
        context["user_agent"] = user_agent[:1024]
        context["device"] = describe_device(user_agent[:1024])
    return context
