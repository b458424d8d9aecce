"""The collector's OpenAPI document: the real event schemas, as a client sends them. Pure.

The request bodies are read by hand (``text/plain`` from browsers, gzip, one bad event must
not cost its batch), so FastAPI cannot derive their schema from a parameter. This module
writes it from the event models themselves (``schemas.events``), minus what the server
stamps, so the document, the validation and a schema-driven fuzzer agree by construction.
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic import BaseModel, Field

from collector.guard import Diversion
from schemas.events import EVENT_ADAPTER

SERVER_STAMPED = ("site_id", "received_at", "verified", "extra")
"""Envelope fields the server sets: a client's value is never taken (see collector.batch)."""
SERVER_DEFAULTED = ("occurred_at",)
"""Envelope fields a client may leave out: the server fills them in (receipt time)."""
BEYOND_SCHEMA = (
    "Also checked, beyond what JSON Schema can say: times within the valid range (see "
    "``schemas.limits``: 2000-01-01 up to a day after receipt, after the clock-skew "
    "correction by ``sent_at``), at most 32 unknown top-level fields (kept in ``extra``), "
    "JSON nested at most 32 levels, integers within 64 bits anywhere (unknown fields "
    "included) and at most 256 KiB per event."
)
REF = "#/components/schemas/{model}"


class RejectedEvent(BaseModel):
    index: int = Field(description="The event's position in the request's batch.")
    event_id: str | None = Field(description="The event's id as sent, when it had one.")
    reason: str = Field(description="Why this event was refused (it went to the DLQ topic).")


class IngestAnswer(BaseModel):
    """The answer to a batch: every event is accounted for in exactly one of these."""

    accepted: int = Field(description="Events Kafka acknowledged (the diverted included).")
    duplicates: int = Field(description="Accepted events the collector had already stored.")
    diverted: dict[Diversion, int] = Field(
        description="Accepted events stored in the overflow topic instead, by reason."
    )
    rejected: list[RejectedEvent]


class ErrorAnswer(BaseModel):
    """The whole request was refused; nothing of it was stored."""

    error: str


ERROR_STATUSES = {
    400: "The body cannot be read as a batch.",
    401: "Unknown or missing key.",
    403: "The browser's origin is not one of the site's.",
    413: "Body or batch too large.",
    429: "Rate limited; retry after ``Retry-After`` seconds.",
    503: "Kafka unavailable; retry after ``Retry-After`` seconds.",
}
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": IngestAnswer, "description": "Per-event outcome."},
    **{
        status: {"model": ErrorAnswer, "description": why} for status, why in ERROR_STATUSES.items()
    },
}


def client_event_defs() -> dict[str, Any]:
    """JSON schemas of every event type and its parts, as a client sends them.

    The server-stamped fields are dropped; unknown top-level fields are allowed (the
    collector keeps them in ``extra``, bounded); pydantic's ``maxLength`` on an object is
    what JSON Schema calls ``maxProperties``."""
    schema = EVENT_ADAPTER.json_schema(ref_template=REF)
    defs: dict[str, Any] = copy.deepcopy(schema["$defs"])
    for name, model in defs.items():
        _object_sizes(model)
        if "type" in model.get("properties", {}) and "event_id" in model["properties"]:
            for field in SERVER_STAMPED:
                model["properties"].pop(field, None)
            dropped = SERVER_STAMPED + SERVER_DEFAULTED
            model["required"] = [f for f in model.get("required", []) if f not in dropped]
            model["additionalProperties"] = True
            model["description"] = BEYOND_SCHEMA
            defs[name] = model
    defs["Event"] = {k: v for k, v in schema.items() if k != "$defs"} | {
        "description": BEYOND_SCHEMA
    }
    defs["Batch"] = {
        "type": "object",
        "title": "Batch",
        "properties": {
            "write_key": {"type": "string", "description": "Or a bearer token / X-Footfall-Key."},
            "sent_at": {"type": "string", "format": "date-time", "description": "Client clock."},
            "batch": {"type": "array", "items": {"$ref": REF.format(model="Event")}},
        },
        "required": ["batch"],
    }
    return defs


def _object_sizes(node: Any) -> None:
    if isinstance(node, dict):
        if node.get("type") == "object" and "maxLength" in node:
            node["maxProperties"] = node.pop("maxLength")
        for value in node.values():
            _object_sizes(value)
    elif isinstance(node, list):
        for value in node:
            _object_sizes(value)


EVENT_EXAMPLE = {
    "event_id": "0b5e8a4c-2d55-4c3a-9d7e-1f1b8c2f9a10",
    "type": "page_view",
    "anonymous_id": "a-1",
    "occurred_at": "2026-01-01T11:59:59Z",
    "context": {"url": "https://shop.example/"},
}
EXAMPLES = {
    "Batch": {
        "write_key": "demo-write-key",
        "sent_at": "2026-01-01T12:00:00Z",
        "batch": [EVENT_EXAMPLE],
    },
    "Event": EVENT_EXAMPLE | {"write_key": "demo-write-key"},
}


def body_doc(model: str) -> dict[str, Any]:
    """``openapi_extra`` of a route whose JSON body is ``model`` (also sent as text/plain)."""
    schema = {"$ref": REF.format(model=model)}
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": schema, "example": EXAMPLES[model]},
                "text/plain": {"schema": {"type": "string"}},
            },
        }
    }


def with_event_schemas(document: dict[str, Any]) -> dict[str, Any]:
    """The app's generated document with the event schemas in its components."""
    components = document.setdefault("components", {}).setdefault("schemas", {})
    components.update(client_event_defs())
    return document
