"""The codec of the worker's tables: JSON through orjson.

The bytes are plain JSON, as with Faust's own ``json`` codec, so changelogs written by either
read back alike; orjson only makes each table read and write cheaper.
"""

from __future__ import annotations

from typing import Any

import orjson
from faust.serializers import codecs

TABLE_CODEC = "footfall-orjson"


class OrjsonCodec(codecs.Codec):
    """JSON values (already in JSON form: str, numbers, lists, dicts) to and from bytes."""

    def _dumps(self, obj: Any) -> bytes:
        return orjson.dumps(obj)

    def _loads(self, s: bytes) -> Any:
        return orjson.loads(s)


def register_table_codec() -> str:
    """Make the codec known to Faust (idempotent); returns its name."""
    if TABLE_CODEC not in codecs.codecs:
        codecs.register(TABLE_CODEC, OrjsonCodec())
    return TABLE_CODEC
