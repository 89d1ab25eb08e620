"""The worker's `timers` table for the timer benchmarks, without Faust: one RocksDB (rocksdict `Rdict`)
per partition, opened as Faust's `rocksdb://` store opens them (`RocksDBOptions`, raw mode) with the
worker's options (`store_options`: bounded block cache and memtables).

`TimerIndex` reads `table.data._dbs[partition]` directly and writes through the mapping methods; this
adapter routes a write to the database of the partition in the value (Faust uses the partition of the
current event, the same one), and looks a key up in each database to read or delete it, as Faust does
outside an event (bloom filter first). The changelog Faust also writes is not modelled.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator, MutableMapping
from datetime import datetime
from pathlib import Path
from typing import Any

import rocksdict
from faust.stores.rocksdb import RocksDBOptions, Store

from nudgeflow.orchestrator.settings import Settings
from nudgeflow.orchestrator.tables import store_options
from nudgeflow.orchestrator.timers.index import index_key

PARTITIONS = 12
OFFSET_KEY = Store.offset_key  # Faust keeps each partition's changelog offset in the same database


class RocksTimerTable(MutableMapping[bytes, bytes]):
    """`TimerIndex`'s table: `data._dbs` is {partition: Rdict}, as on Faust's RocksDB store."""

    def __init__(self, folder: Path, partitions: int = PARTITIONS) -> None:
        self.folder = folder
        self.options = RocksDBOptions(**store_options(Settings()), use_rocksdict=True)
        self._dbs: dict[int, rocksdict.Rdict] = {}
        for partition in range(partitions):
            db = self.options.open(folder / f"timers-{partition}.db")
            db.put(OFFSET_KEY, b"0")
            self._dbs[partition] = db

    @property
    def data(self) -> RocksTimerTable:
        return self  # Faust: `table.data` is the store, which holds `_dbs`

    def _find(self, key: bytes) -> tuple[rocksdict.Rdict, bytes] | None:
        for db in self._dbs.values():
            if db.key_may_exist(key):
                value = db.get(key)
                if value is not None:
                    return db, value
        return None

    def __getitem__(self, key: bytes) -> bytes:
        found = self._find(key)
        if found is None:
            raise KeyError(key)
        return found[1]

    def get(self, key: bytes, default: Any = None) -> Any:
        found = self._find(key)
        return default if found is None else found[1]

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self._dbs[int(value)].put(key, value)

    def __delitem__(self, key: bytes) -> None:
        found = self._find(key)
        if found is None:
            raise KeyError(key)
        found[0].delete(key)

    def __iter__(self) -> Iterator[bytes]:
        for db in self._dbs.values():
            for key in db.keys():
                if key != OFFSET_KEY:
                    yield key

    def items(self) -> Iterator[tuple[bytes, bytes]]:  # type: ignore[override]
        for db in self._dbs.values():
            for key, value in db.items():
                if key != OFFSET_KEY:
                    yield key, value

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def arm_batch(self, timers: list[tuple[str, str, datetime, int]]) -> None:
        """Bulk-load (user, timer id, due, partition) entries with one WriteBatch per partition."""
        batches = {partition: rocksdict.WriteBatch(raw_mode=True) for partition in self._dbs}
        for user_id, timer_id, due_at, partition in timers:
            batches[partition].put(index_key(user_id, timer_id, due_at), b"%d" % partition)
        for partition, batch in batches.items():
            self._dbs[partition].write(batch)

    def flush(self) -> None:
        for db in self._dbs.values():
            db.flush()

    def compact(self) -> None:
        for db in self._dbs.values():
            db.compact_range(None, None)

    def property_sum(self, name: str) -> int:
        return sum(int(db.property_int_value(name) or 0) for db in self._dbs.values())

    def disk_bytes(self) -> int:
        return sum(path.stat().st_size for path in self.folder.rglob("*") if path.is_file())

    def close(self) -> None:
        for db in self._dbs.values():
            db.close()
        self._dbs.clear()


class TempTimerTable:
    """`with TempTimerTable() as table:` a `RocksTimerTable` in a temporary directory, removed after."""

    def __init__(self, partitions: int = PARTITIONS) -> None:
        self.partitions = partitions
        self.folder = Path(tempfile.mkdtemp(prefix="bench-timers-"))

    def __enter__(self) -> RocksTimerTable:
        self.table = RocksTimerTable(self.folder, self.partitions)
        return self.table

    def __exit__(self, *exc: object) -> None:
        self.table.close()
        shutil.rmtree(self.folder, ignore_errors=True)
