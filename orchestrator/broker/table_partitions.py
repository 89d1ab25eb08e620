"""One partition's rows of a Faust table, read from that partition's own RocksDB database.

Faust's RocksDB store keeps one database per table partition, but `table.items()` walks every
partition the worker holds and decodes every row. A pass that concerns one partition (the
outbox's prune and resume, the timer index's scan) reads just that partition's database.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def rocksdb_store(table: Any) -> Any:
    """Faust's RocksDB store behind a table, or None (a dict, or Faust's memory store)."""
    data = getattr(table, "data", None)
    if data is None or not hasattr(data, "_dbs"):
        return None
    return data


def partition_items(table: Any, partition: int) -> Iterator[tuple[Any, Any]]:
    """(key, value) of the rows stored in `partition`, decoded one at a time. A table not on RocksDB
    (unit tests, `memory://`) yields all its rows: the caller checks the partition of each."""
    store = rocksdb_store(table)
    if store is None:
        yield from table.items()
        return
    db = store._dbs.get(partition)
    if db is None:  # not a partition this worker holds
        return
    for key, value in store._visible_items(db):  # skips Faust's offset key
        yield store._decode_key(key), store._decode_value(value)
