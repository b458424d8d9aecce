"""Personal traits at rest: sealed values open only with their site's key, hashes are stable."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.personal import (
    PersonalDataError,
    Scalar,
    hashed,
    opened_everywhere,
    protect,
    reveal,
    sealed_count,
    site_key,
)
from webhooks.summary import revealed, summarize, without_personal

KEY = site_key("the shop's own secret")
OTHER = site_key("another shop's secret")
scalars = st.one_of(
    st.text(max_size=40),
    st.integers(-(2**53), 2**53),
    st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False),
)


@given(st.dictionaries(st.sampled_from(["email", "phone", "name", "plan", "city"]), scalars))
def test_sealed_traits_open_to_what_was_sent_and_only_personal_ones_change(
    traits: dict[str, Scalar],
) -> None:
    stored = protect(traits, "encrypt", KEY, "shop")
    assert reveal(stored, KEY, "shop") == traits
    assert stored.get("plan") == traits.get("plan")
    for name in {"email", "phone", "name", "city"} & set(traits):
        assert str(stored[name]).startswith("e1:")


def test_a_sealed_trait_does_not_open_for_another_key_or_site() -> None:
    stored = protect({"email": "ann@example.com"}, "encrypt", KEY, "shop")
    with pytest.raises(PersonalDataError):
        reveal(stored, OTHER, "shop")
    with pytest.raises(PersonalDataError):
        reveal(stored, KEY, "another-shop")
    assert reveal(stored, None, "shop") == {}  # no key: nothing a receiver cannot read


@given(st.dictionaries(st.sampled_from(["email", "phone", "name", "plan"]), scalars, min_size=1))
def test_an_export_shows_sealed_traits_opened_wherever_they_are_held(
    traits: dict[str, Scalar],
) -> None:
    stored = protect(traits, "encrypt", KEY, "shop")
    as_text = orjson.dumps({"traits": stored}).decode()
    document = {
        "clickhouse": {"events": [{"properties": as_text, "page": "https://shop/site1:e1:x"}]},
        "worker": {"profile": {"traits": stored, "key": "site1:e1:abc"}},
    }
    personal = len({"email", "phone", "name"} & set(traits))
    assert sealed_count(document) == 2 * personal
    opened = opened_everywhere(document, KEY, "shop")
    assert isinstance(opened, dict)
    assert opened["worker"]["profile"] == {"traits": traits, "key": "site1:e1:abc"}
    row = opened["clickhouse"]["events"][0]
    assert orjson.loads(row["properties"]) == {"traits": traits}
    assert row["page"] == "https://shop/site1:e1:x"
    assert sealed_count(opened) == 0
    if personal:
        with pytest.raises(PersonalDataError):
            opened_everywhere(document, OTHER, "shop")


def test_hashes_are_stable_normalized_and_keyed() -> None:
    one = protect({"email": " Ann@Example.com "}, "hash", KEY, "shop")["email"]
    assert one == hashed(KEY, "ann@example.com") != hashed(OTHER, "ann@example.com")
    assert protect({"email": one}, "hash", KEY, "shop")["email"] == one  # never twice
    assert protect({"email": "x@y.z"}, "plain", None, "shop") == {"email": "x@y.z"}
    with pytest.raises(ValueError, match="no key"):
        protect({"email": "x@y.z"}, "encrypt", None, "shop")
    with pytest.raises(ValueError, match="16 characters"):
        site_key("short")


def test_a_webhook_shows_personal_traits_opened_or_not_at_all() -> None:
    sealed = protect({"email": "ann@example.com", "plan": "gold"}, "encrypt", KEY, "shop")
    summary = summarize("ann", None, [], None, sealed, None)
    asked = revealed(summary, KEY, "shop")
    assert (asked.email, asked.traits) == (
        "ann@example.com",
        {"email": "ann@example.com", "plan": "gold"},
    )
    not_asked = without_personal(summary)
    assert (not_asked.email, not_asked.traits) == (None, {"plan": "gold"})
