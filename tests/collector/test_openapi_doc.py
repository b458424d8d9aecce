"""The OpenAPI document describes the events the collector really takes.

Bodies are drawn by schemathesis from the document itself (no server: the document is the
app's, the validation is the collector's own pure function), so a schema that allows what
validation refuses, or the reverse, fails here in a fraction of a second per example."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode

from collector.app import create_app
from collector.batch import RequestFacts, validate_batch
from collector.settings import CollectorSettings

BEYOND_SCHEMA_REASONS = re.compile(
    r"occurred_at|sent_at|unknown fields|nested deeper|bytes as JSON|not a JSON value|64-bit"
)
"""The per-event checks the document states in words because JSON Schema cannot express
them (``collector.openapi.BEYOND_SCHEMA``): times, extra fields, depth, size."""

DOCUMENT = create_app(CollectorSettings()).openapi()
API = schemathesis.openapi.from_dict(DOCUMENT)
FACTS = RequestFacts(site_id="shop-a", verified=True, received_at=datetime.now(UTC))


BATCHES = API["/v1/batch"]["POST"].as_strategy(generation_mode=GenerationMode.POSITIVE)
SINGLE_EVENTS = API["/v1/event"]["POST"].as_strategy(generation_mode=GenerationMode.POSITIVE)


def events_of(case: Case) -> list[Any]:
    body = case.body
    if not isinstance(body, dict):
        return []
    batch = body.get("batch", [body])
    return batch if isinstance(batch, list) else []


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(case=st.one_of(BATCHES, SINGLE_EVENTS))
def test_an_event_the_document_allows_is_accepted(case: Case) -> None:
    if case.media_type != "application/json":
        return
    result = validate_batch(events_of(case), FACTS)
    for rejection in result.rejected:
        assert BEYOND_SCHEMA_REASONS.search(rejection.reason), (rejection.reason, rejection.raw)


def test_the_document_names_every_event_type_and_refuses_server_fields() -> None:
    schemas = DOCUMENT["components"]["schemas"]
    mapping = schemas["Event"]["discriminator"]["mapping"]
    assert "order_placed" in mapping
    assert "custom" in mapping
    order = schemas["OrderPlaced"]
    assert "site_id" not in order["properties"]
    assert "verified" not in order["properties"]
    assert "occurred_at" not in order["required"]  # the server fills in the receipt time
    batch = DOCUMENT["paths"]["/v1/batch"]["post"]
    assert batch["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Batch"
    }
    assert set(batch["responses"]) >= {"200", "400", "401", "413", "429", "503"}
