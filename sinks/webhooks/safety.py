"""Refusing webhook URLs that point inside the network (SSRF).

:func:`check_addresses` is pure: it decides from the URL and the addresses the host resolved
to. :func:`resolve` does the DNS lookup. The sender then connects to the checked address
itself, so a second lookup cannot swap it for another one.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
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


def split_url(url: str) -> tuple[str, str, int]:
    """Scheme, host and port of an http(s) URL; raises :class:`UnsafeUrl` otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise UnsafeUrl(f"scheme {parts.scheme!r} is not http or https")
    if not parts.hostname:
        raise UnsafeUrl("no host in URL")
    if parts.username or parts.password:
        raise UnsafeUrl("credentials in the URL are not allowed")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise UnsafeUrl(f"bad port: {exc}") from exc
    return parts.scheme, parts.hostname, port


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
    except socket.gaierror as exc:
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
