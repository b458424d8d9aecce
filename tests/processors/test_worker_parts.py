"""The worker's caches and encodings give what the tables and the full figures give."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from faust.serializers import codecs

from schemas.profile import Profile
from stream_processors.due_index import DueIndex
from stream_processors.figures import figure_values, figures, stored
from stream_processors.journey_step import earliest_due, is_due
from stream_processors.live import LiveCache
from stream_processors.segments import figures_used, parse_config
from stream_processors.table_codec import register_table_codec
from stream_processors.transport import WorkerApp

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)


def a_buyer() -> Profile:
    return Profile(
        site_id="demo",
        profile_id="c1",
        orders=3,
        discount_orders=2,
        revenue=Decimal("120.50"),
        price_ratio_sum=1.7,
        price_ratio_count=3,
        last_order_at=NOW,
        first_seen=NOW,
    )


def test_the_figures_rules_read_are_the_full_figures_values() -> None:
    busy = {"name": "busy", "all": ["views_7d >= 1", "median_days_between_orders < 9"]}
    used = figures_used(parse_config({"segments": [busy]}))
    assert used == {"views_7d", "median_days_between_orders"}
    full = figures(a_buyer(), NOW).model_dump()
    assert figure_values(a_buyer(), NOW, used) == {name: full[name] for name in used}
    assert figure_values(a_buyer(), NOW, frozenset()) == {}
    assert figure_values(a_buyer(), NOW, frozenset({"views_7d"}))["views_7d"] == 0


def test_the_table_codec_reads_and_writes_plain_json() -> None:
    name = register_table_codec()
    body = stored(a_buyer())
    written = codecs.dumps(name, body)
    assert json.loads(written) == body  # what Faust's own json codec would read back
    assert codecs.loads(name, json.dumps(body).encode()) == body
    assert Profile.model_validate(codecs.loads(name, written)) == a_buyer()


def test_the_live_cache_reads_once_and_forgets_the_oldest() -> None:
    reads: list[str] = []
    cache: LiveCache[str] = LiveCache(limit=2)

    def read(key: str) -> str:
        reads.append(key)
        return key.upper()

    assert cache.get("a", lambda: read("a")) == "A"
    assert cache.get("a", lambda: read("a")) == "A"
    cache.put("b", "B")
    cache.put("c", "C")  # over the limit: "a" leaves
    assert cache.get("a", lambda: read("a")) == "A"
    assert reads == ["a", "a"]
    cache.clear()
    assert cache.get("c", lambda: read("c")) == "C"
    assert reads == ["a", "a", "c"]


def test_the_due_index_finds_what_a_scan_of_the_table_finds() -> None:
    table = {
        "demo:a": {"due_at": "2026-11-24T11:00:00+00:00"},
        "demo:b": {"due_at": "2026-11-25T00:00:00Z", "segments_due_at": "2026-11-24T09:00:00Z"},
        "demo:c": {"version": 3},  # no timer
    }
    index = DueIndex()
    assert not index.complete
    index.fill(table.items())
    assert index.complete
    scanned = [(key, earliest_due(v)) for key, v in table.items() if is_due(earliest_due(v), NOW)]
    assert index.due_by(NOW) == scanned
    index.note("demo:a", {"version": 4})  # its timer fired and is gone
    index.note("demo:c", {"due_at": "2026-11-24T12:00:00+00:00"})  # due right now
    assert [key for key, _ in index.due_by(NOW)] == ["demo:b", "demo:c"]
    index.forget()
    assert not index.complete
    assert index.due_by(NOW) == []


def test_the_flush_before_a_commit_waits_for_every_table_change() -> None:
    """Faust's own flush gives up on its buffer of changelog records after 0.1 s without a
    record sent; the worker's waits until the last one is with the Kafka client."""
    published: list[int] = []

    class SlowChannel:
        async def publish_message(self, fut: Any, wait: bool) -> None:
            await asyncio.sleep(0.15)  # a busy machine: longer than Faust's 0.1 s
            published.append(fut.n)

    async def main() -> None:
        app = WorkerApp("flush", broker="kafka://127.0.0.1:9", store="memory://")
        producer: Any = app.producer
        await producer.buffer.start()  # its sending task, as when the producer starts
        try:
            for n in range(3):
                record = SimpleNamespace(n=n, message=SimpleNamespace(channel=SlowChannel()))
                producer.buffer.put(record)
            await producer.flush()
            assert published == [0, 1, 2]
        finally:
            await producer.buffer.stop()

    asyncio.run(main())
