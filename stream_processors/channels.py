"""Which channel an event came through: UTM fields, referrer class, coupon. Pure functions."""

from __future__ import annotations

from urllib.parse import urlsplit

from schemas.events import Envelope
from schemas.profile import Touch

SEARCH_ENGINES = ("google.", "bing.", "duckduckgo.", "yahoo.", "ecosia.", "baidu.", "yandex.")
SOCIAL = (
    "facebook.",
    "instagram.",
    "t.co",
    "twitter.",
    "x.com",
    "pinterest.",
    "tiktok.",
    "linkedin.",
    "youtube.",
    "reddit.",
)


def host_of(url: str | None) -> str:
    if not url:
        return ""
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def referrer_class(referrer: str | None, page_url: str | None) -> str:
    """direct, internal, search, social, email or other."""
    host = host_of(referrer)
    if not host:
        return "direct"
    if host == host_of(page_url):
        return "internal"
    bare = host.removeprefix("www.")
    if any(bare.startswith(name) for name in SEARCH_ENGINES):
        return "search"
    if any(bare == name or bare.startswith(name) for name in SOCIAL):
        return "social"
    if bare.startswith(("mail.", "webmail.", "outlook.")):
        return "email"
    return "other"


def touch_of(event: Envelope) -> Touch | None:
    """The channel of ``event``, or None when it carries no channel information."""
    context = event.context
    utm = context.utm
    referrer = referrer_class(context.referrer, context.url)
    coupon = context.coupon or getattr(getattr(event, "properties", None), "coupon", None)
    if utm.source is None and utm.medium is None and coupon is None and referrer == "internal":
        return None
    if utm.source is None and utm.campaign is None and coupon is None and referrer == "direct":
        # A visit with no referrer counts as a touch only when nothing better is known.
        return Touch(at=event.occurred_at)
    return Touch(
        at=event.occurred_at,
        source=utm.source,
        medium=utm.medium,
        campaign=utm.campaign,
        referrer=referrer,
        coupon=coupon,
    )


def has_signal(touch: Touch) -> bool:
    return touch.referrer != "direct" or bool(touch.source or touch.campaign or touch.coupon)


def first_touch(a: Touch | None, b: Touch | None) -> Touch | None:
    """The earliest touch; a touch with channel information beats a bare direct visit."""
    return pick(a, b, latest=False)


def last_touch(a: Touch | None, b: Touch | None) -> Touch | None:
    return pick(a, b, latest=True)


def pick(a: Touch | None, b: Touch | None, *, latest: bool) -> Touch | None:
    """The better of two touches under a total order, so the result is order-free."""
    if a is None or b is None:
        return a or b
    sign = 1 if latest else -1

    def rank(touch: Touch) -> tuple[bool, float, str]:
        return (has_signal(touch), sign * touch.at.timestamp(), touch.model_dump_json())

    return a if rank(a) >= rank(b) else b
