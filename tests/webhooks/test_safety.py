"""SSRF refusals: the address check is a pure function of the URL and resolved addresses."""

from __future__ import annotations

import asyncio
import ipaddress

import pytest

from webhooks.safety import (
    UnsafeUrl,
    check_addresses,
    checked_address,
    parse_networks,
    split_url,
)

ip = ipaddress.ip_address


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.9", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "metadata"),
        ("169.254.10.10", "link-local"),
        ("100.100.100.200", "metadata"),
        ("100.64.0.1", "shared address space"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("::1", "loopback"),
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),
        ("fd00:ec2::254", "metadata"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:169.254.169.254", "metadata"),
    ],
)
def test_internal_addresses_are_refused_by_default(address: str, reason: str) -> None:
    with pytest.raises(UnsafeUrl, match=reason):
        check_addresses("hooks.example", [ip(address)], allowed=[])


def test_a_public_address_is_accepted() -> None:
    assert check_addresses("hooks.example", [ip("93.184.216.34")], []) == ip("93.184.216.34")


def test_one_internal_address_among_public_ones_is_refused() -> None:
    with pytest.raises(UnsafeUrl, match=r"10\.0\.0\.5"):
        check_addresses("rebind.example", [ip("93.184.216.34"), ip("10.0.0.5")], [])


def test_an_allowed_network_lets_a_local_receiver_through() -> None:
    allowed = parse_networks(["127.0.0.0/8"])
    assert check_addresses("localhost", [ip("127.0.0.1")], allowed) == ip("127.0.0.1")
    with pytest.raises(UnsafeUrl):
        check_addresses("metadata", [ip("169.254.169.254")], allowed)


@pytest.mark.parametrize(
    "url",
    ["ftp://hooks.example/x", "file:///etc/passwd", "http:///nohost", "http://u:p@hooks.example/"],
)
def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(UnsafeUrl):
        split_url(url)


def test_literal_addresses_in_urls_are_checked_without_dns() -> None:
    with pytest.raises(UnsafeUrl, match="loopback"):
        asyncio.run(checked_address("http://127.0.0.1:9/hook", []))
    with pytest.raises(UnsafeUrl, match="metadata"):
        asyncio.run(checked_address("http://[::ffff:169.254.169.254]/latest", []))
    host, address = asyncio.run(
        checked_address("http://127.0.0.1:9/", parse_networks(["127.0.0.1/32"]))
    )
    assert (host, address) == ("127.0.0.1", ip("127.0.0.1"))


def test_localhost_by_name_is_refused() -> None:
    with pytest.raises(UnsafeUrl, match="loopback"):
        asyncio.run(checked_address("http://localhost:8080/hook", []))
