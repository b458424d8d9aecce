"""The worker's table store: Faust's RocksDB store with zstd blocks, smaller on disk."""

from __future__ import annotations

from pathlib import Path

import orjson
from faust.stores import rocksdb as faust_rocksdb

from stream_processors.figures import stored
from stream_processors.profile import apply_event, new_profile
from stream_processors.settings import WorkerSettings
from stream_processors.transport import COMPRESSED_STORE, CompressedOptions, store_url
from stream_processors.worker import build_app
from tests.processors.events import at, make, order, view


def profile_values(count: int) -> list[bytes]:
    values = []
    for n in range(count):
        profile = new_profile("demo", f"c{n}")
        events = [view(at(day), "shoes", "120", brand=f"b{n % 7}") for day in range(8)]
        events += [make("page_view", at(day), session_id=f"s{n}-{day}") for day in range(8)]
        events.append(order(at(9), f"{n}.50"))
        for offset, event in enumerate(events):
            profile = apply_event(profile, event, (0, offset))
        values.append(orjson.dumps(stored(profile)))
    return values


def size_on_disk(options: faust_rocksdb.RocksDBOptions, path: Path, values: list[bytes]) -> int:
    db = options.open(path)
    for n, value in enumerate(values):
        db[f"demo:c{n}".encode()] = value
    db.flush()
    db.compact_range(None, None)
    db.close()
    return sum(f.stat().st_size for f in path.iterdir() if f.suffix == ".sst")


def test_profiles_take_less_room_in_the_compressed_store(tmp_path: Path) -> None:
    values = profile_values(300)
    plain = size_on_disk(faust_rocksdb.RocksDBOptions(), tmp_path / "plain", values)
    compressed = size_on_disk(CompressedOptions(), tmp_path / "zstd", values)
    assert compressed < plain * 0.8, (plain, compressed)


def test_the_worker_keeps_its_tables_in_the_compressed_store(tmp_path: Path) -> None:
    assert store_url("rocksdb://") == f"{COMPRESSED_STORE}://"
    assert store_url("memory://") == "memory://"
    app = build_app(WorkerSettings(data_dir=tmp_path))
    assert str(app.conf.store).startswith(f"{COMPRESSED_STORE}:")
    table = app.tables["profiles"]
    assert isinstance(table.data.rocksdb_options, CompressedOptions)  # type: ignore[attr-defined]
