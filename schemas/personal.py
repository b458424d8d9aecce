"""Personal traits at rest: kept as sent, hashed, or sealed with the site's key. Pure.

Traits that name or reach a person (:data:`PERSONAL_TRAITS`: e-mail, phone, name, address,
birthday) can be protected by the collector before an ``identify`` reaches Kafka, so every
store downstream (the raw topics, the worker's tables and its ``profiles`` topic, ClickHouse,
the dispatcher's state) holds only the protected form:

- ``hash``: ``h1:`` and the hex HMAC-SHA-256 of the trimmed, lower-cased value under the
  site's key. The same e-mail always gives the same text (a profile can still be matched, a
  segment can still test equality), and no one without the key can test a guess.
- ``encrypt``: ``e1:`` and AES-256-GCM of the JSON value under the site's key, bound to the
  site id; the dispatcher opens it for a subscription that asks for personal traits, and
  nothing else can read it. Removing the key makes every sealed value unreadable for good.

The key is the operator's secret per site (``FOOTFALL_PERSONAL_KEYS``); the 32 bytes used are
its SHA-256, so any text will do (at least 16 characters are required).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from collections.abc import Callable, Mapping
from typing import Literal

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import BaseModel, Field, SecretStr, field_validator

PERSONAL_TRAITS = frozenset(
    {
        "email",
        "phone",
        "name",
        "first_name",
        "last_name",
        "firstName",
        "lastName",
        "address",
        "street",
        "city",
        "zip",
        "postal_code",
        "postalCode",
        "birthday",
    }
)
"""Traits that name or reach a person: protected at rest where the site asks, and sent only
to subscriptions that ask for them."""

Protection = Literal["plain", "hash", "encrypt"]
HASHED = "h1:"
SEALED = "e1:"
NONCE_BYTES = 12
MIN_KEY_CHARS = 16

Scalar = str | int | float | bool | None


class PersonalDataError(ValueError):
    """A sealed value that its key does not open (another key, another site, or altered)."""


def site_key(secret: str) -> bytes:
    """The 32-byte key of a site's secret."""
    if len(secret) < MIN_KEY_CHARS:
        raise ValueError(f"a personal-data key needs at least {MIN_KEY_CHARS} characters")
    return hashlib.sha256(secret.encode()).digest()


def key_of(keys: Mapping[str, SecretStr], site_id: str) -> bytes | None:
    """The key of ``site_id`` among a process's ``personal_keys`` setting, if it has one."""
    secret = keys.get(site_id)
    return None if secret is None else site_key(secret.get_secret_value())


def hashed(key: bytes, value: Scalar) -> str:
    text = str(value).strip().lower()
    return HASHED + hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def sealed(key: bytes, site_id: str, value: Scalar) -> str:
    nonce = os.urandom(NONCE_BYTES)
    box = AESGCM(key).encrypt(nonce, orjson.dumps(value), site_id.encode())
    return SEALED + base64.urlsafe_b64encode(nonce + box).decode()


def opened(key: bytes, site_id: str, value: str) -> Scalar:
    raw = base64.urlsafe_b64decode(value.removeprefix(SEALED).encode())
    try:
        plain = AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], site_id.encode())
    except InvalidTag as exc:
        raise PersonalDataError("a sealed trait does not open with this site's key") from exc
    result: Scalar = orjson.loads(plain)
    return result


def is_protected(value: Scalar) -> bool:
    return isinstance(value, str) and value.startswith((HASHED, SEALED))


def protect(
    traits: Mapping[str, Scalar], protection: Protection, key: bytes | None, site_id: str
) -> dict[str, Scalar]:
    """The traits as stored: personal ones hashed or sealed (None and protected ones stay)."""
    if protection == "plain":
        return dict(traits)
    if key is None:
        raise ValueError(f"site {site_id} protects personal traits but has no key")
    out = dict(traits)
    for name, value in traits.items():
        if name not in PERSONAL_TRAITS or value is None or is_protected(value):
            continue
        out[name] = hashed(key, value) if protection == "hash" else sealed(key, site_id, value)
    return out


class PersonalKeys(BaseModel):
    """The ``personal_keys`` field of the settings of every process that hashes, seals or
    opens personal traits (the collector, the webhook dispatcher, ``footfall export``): one
    ``FOOTFALL_PERSONAL_KEYS`` for all of them."""

    personal_keys: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="Site id -> the secret its personal traits are hashed or sealed with "
        "(at least 16 characters): the collector protects them with it, the webhook "
        "dispatcher and footfall export open sealed ones with the same value.",
    )

    @field_validator("personal_keys")
    @classmethod
    def long_enough(cls, keys: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for secret in keys.values():
            site_key(secret.get_secret_value())  # too short a key says so now
        return keys

    def personal_key(self, site_id: str) -> bytes | None:
        return key_of(self.personal_keys, site_id)


def reveal(traits: Mapping[str, Scalar], key: bytes | None, site_id: str) -> dict[str, Scalar]:
    """The traits with every sealed value opened (hashed ones cannot be: they stay). Without
    the key, sealed values are left out: a receiver gets nothing it cannot read."""
    out: dict[str, Scalar] = {}
    for name, value in traits.items():
        if isinstance(value, str) and value.startswith(SEALED):
            if key is None:
                continue
            out[name] = opened(key, site_id, value)
        else:
            out[name] = value
    return out


SEALED_VALUE = re.compile(r"^e1:[A-Za-z0-9_-]+=*$")


def map_sealed(value: object, change: Callable[[str], Scalar]) -> object:
    """Decoded JSON with ``change`` applied to every sealed value, also inside strings that
    hold JSON text (a stored row's ``properties``). Pure when ``change`` is."""
    if isinstance(value, dict):
        return {name: map_sealed(item, change) for name, item in value.items()}
    if isinstance(value, list):
        return [map_sealed(item, change) for item in value]
    if not isinstance(value, str) or SEALED not in value:
        return value
    if SEALED_VALUE.match(value):
        return change(value)
    if value[:1] in ("{", "["):
        try:
            inner = orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
        return orjson.dumps(map_sealed(inner, change)).decode()
    return value


def sealed_count(value: object) -> int:
    """How many sealed values ``value`` (decoded JSON) holds."""
    found: list[str] = []

    def note(text: str) -> str:
        found.append(text)
        return text

    map_sealed(value, note)
    return len(found)


def opened_everywhere(value: object, key: bytes, site_id: str) -> object:
    """``value`` with every sealed value opened; raises :class:`PersonalDataError` for a
    value ``key`` does not open."""
    return map_sealed(value, lambda text: opened(key, site_id, text))
