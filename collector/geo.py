"""Country lookup from a local CSV of IP ranges (optional; no network, no third-party DB).

The file has one range per line: ``start_ip,end_ip,country`` (ISO 3166-1 alpha-2), IPv4 or
IPv6, e.g. ``203.0.113.0,203.0.113.255,NZ``. Lines starting with ``#`` and a header line
whose first field is not an address are skipped. Ranges must not overlap. Free databases in
this shape exist (for example the "IP to Country Lite" CSVs); convert to this column order.
The lookup runs on the full client address before it is truncated.
"""

from __future__ import annotations

import bisect
import csv
import ipaddress
from dataclasses import dataclass, field
from pathlib import Path


class GeoFileError(ValueError):
    """The IP range file cannot be read."""


@dataclass
class CountryRanges:
    """Sorted, non-overlapping ranges for one IP version."""

    starts: list[int] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)
    countries: list[str] = field(default_factory=list)

    def find(self, value: int) -> str | None:
        index = bisect.bisect_right(self.starts, value) - 1
        if index >= 0 and value <= self.ends[index]:
            return self.countries[index]
        return None


@dataclass
class CountryLookup:
    v4: CountryRanges = field(default_factory=CountryRanges)
    v6: CountryRanges = field(default_factory=CountryRanges)

    def country(self, ip: str | None) -> str | None:
        if not ip:
            return None
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return None
        ranges = self.v4 if address.version == 4 else self.v6
        return ranges.find(int(address))


def parse_ranges(rows: list[list[str]]) -> CountryLookup:
    """Build a lookup from CSV rows (pure)."""
    parsed: dict[int, list[tuple[int, int, str]]] = {4: [], 6: []}
    for number, row in enumerate(rows, start=1):
        if not row or row[0].startswith("#"):
            continue
        try:
            start, end = ipaddress.ip_address(row[0].strip()), ipaddress.ip_address(row[1].strip())
        except (ValueError, IndexError) as exc:
            if number == 1:
                continue  # header
            raise GeoFileError(f"line {number}: {exc}") from None
        country = row[2].strip().upper() if len(row) > 2 else ""
        if len(country) != 2 or start.version != end.version:
            raise GeoFileError(f"line {number}: need start_ip,end_ip,two-letter country")
        parsed[start.version].append((int(start), int(end), country))
    lookup = CountryLookup()
    for version, ranges in ((4, lookup.v4), (6, lookup.v6)):
        for start_value, end_value, country in sorted(parsed[version]):
            ranges.starts.append(start_value)
            ranges.ends.append(end_value)
            ranges.countries.append(country)
    return lookup


def load_country_lookup(path: Path) -> CountryLookup:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            return parse_ranges(list(csv.reader(handle)))
    except OSError as exc:
        raise GeoFileError(f"cannot read {path}: {exc}") from exc
