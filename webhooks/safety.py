"""Refusing webhook URLs that point inside the network (SSRF).

:func:`check_addresses` is pure: it decides from the URL and the addresses the host resolved
to. :func:`resolve` does the DNS lookup. The sender then connects to the checked address
itself, so a second lookup cannot swap it for another one.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import unicodedata
from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

METADATA_ADDRESSES = frozenset(
    {
        ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, OpenStack
        ipaddress.ip_address("169.254.170.2"),  # AWS ECS task metadata
        ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
        ipaddress.ip_address("fd00:ec2::254"),  # AWS over IPv6
    }
)
SHARED_SPACE = ipaddress.ip_network("100.64.0.0/10")


class UnsafeUrl(ValueError):
    """The URL may not be called: bad scheme, or an internal address not allowed by config."""


def parse_networks(cidrs: Iterable[str]) -> list[IPNetwork]:
    return [ipaddress.ip_network(cidr, strict=False) for cidr in cidrs]


MAX_HOST_LENGTH = 253  # DNS: a name of at most 253 characters, labels of at most 63
MAX_LABEL_LENGTH = 63


def split_url(url: str) -> tuple[str, str, int]:
    """Scheme, host and port of an http(s) URL; raises :class:`UnsafeUrl` otherwise. Pure.

    Every malformed URL ends here with a reason (an admin gets a 422, never a 500): an
    unclosed IPv6 bracket, no host, a port out of range, whitespace or control characters,
    a host or label longer than DNS allows.
    """
    if any(char.isspace() or unicodedata.category(char) == "Cc" for char in url):
        raise UnsafeUrl("whitespace or control characters in the URL")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrl(f"not a valid URL: {exc}") from exc
    if parts.scheme not in ("http", "https"):
        raise UnsafeUrl(f"scheme {parts.scheme!r} is not http or https")
    if not host:
        raise UnsafeUrl("no host in URL")
    if parts.username or parts.password:
        raise UnsafeUrl("credentials in the URL are not allowed")
    if port == 0:
        raise UnsafeUrl("bad port: 0")
    if "[" not in parts.netloc:  # a name, not an IPv6 literal (which urlsplit has checked)
        labels = host.removesuffix(".").split(".")
        if len(host) > MAX_HOST_LENGTH:
            raise UnsafeUrl(f"host longer than {MAX_HOST_LENGTH} characters")
        if any(not 0 < len(label) <= MAX_LABEL_LENGTH for label in labels):
            raise UnsafeUrl(f"host {host!r} has an empty label or one over {MAX_LABEL_LENGTH}")
    return parts.scheme, host, port or (443 if parts.scheme == "https" else 80)


def internal_reason(address: IPAddress) -> str | None:
    """Why ``address`` is internal (metadata, loopback, private, …), or ``None``."""
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped or address.sixtofour
        if mapped is not None:
            return internal_reason(mapped)
    if address in METADATA_ADDRESSES:
        return "cloud metadata address"
    checks = (
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("unspecified", address.is_unspecified),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
        ("shared address space", address in SHARED_SPACE),
        ("not globally routable", not address.is_global),
    )
    for reason, hit in checks:
        if hit:
            return reason
    return None


def check_addresses(
    host: str, addresses: Sequence[IPAddress], allowed: Sequence[IPNetwork]
) -> IPAddress:
    """The address to connect to; refuses if any resolved address is internal and not allowed.

    Every address must pass, not just the first: a host resolving to one public and one
    private address is refused.
    """
    if not addresses:
        raise UnsafeUrl(f"{host} did not resolve")
    for address in addresses:
        reason = internal_reason(address)
        if reason is not None and not any(address in net for net in allowed):
            raise UnsafeUrl(f"{host} resolves to {address} ({reason}), which is not allowed")
    return addresses[0]


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (a literal IP resolves to itself)."""
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:  # UnicodeError: the IDNA encoding failed
        raise UnsafeUrl(f"{host} did not resolve: {exc}") from exc
    seen: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in seen:
            seen.append(address)
    return seen


async def checked_address(url: str, allowed: Sequence[IPNetwork]) -> tuple[str, IPAddress]:
    """The URL's host and the vetted address to connect to."""
    _, host, port = split_url(url)
    return host, check_addresses(host, await resolve(host, port), allowed)
