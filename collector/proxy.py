"""Which address a request comes from: the peer, or what trusted proxies say it is. Pure.

``X-Forwarded-For`` is a header any client can write, so it is believed only when the peer
is one of the configured proxies; each trusted hop appends the address it saw, so the list
is read from the right, past the trusted proxies, and the first other address is the client.
From any other peer (and by default, with no proxies configured) the peer is the client, so
a rotating header can neither lift the per-IP limit nor choose the stored IP.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


@dataclass(frozen=True)
class TrustedProxies:
    """The networks whose ``X-Forwarded-For`` is believed (none by default)."""

    networks: tuple[Network, ...] = ()

    @classmethod
    def of(cls, entries: Iterable[str]) -> TrustedProxies:
        return cls(tuple(ipaddress.ip_network(entry, strict=False) for entry in entries))

    def trusts(self, address: str) -> bool:
        ip = parse_ip(address)
        return ip is not None and any(ip in network for network in self.networks)

    def client_ip(self, peer: str | None, forwarded_for: list[str]) -> str | None:
        """The client's address: the peer unless it is trusted, else the rightmost
        forwarded address that is not itself a trusted proxy. A malformed entry ends the
        walk at the hop that wrote it (its writer is the last address known to be true)."""
        if peer is None or not self.trusts(peer):
            return peer
        hops = [hop.strip() for header in forwarded_for for hop in header.split(",")]
        client = peer
        for hop in reversed(hops):
            if parse_ip(hop) is None:
                return client
            client = str(parse_ip(hop))
            if not self.trusts(client):
                return client
        return client
