"""Every table partition a worker opens shares one RocksDB block cache of the configured size."""

from __future__ import annotations

from pathlib import Path

import rocksdict
from faust.stores.rocksdb import RocksDBOptions

from nudgeflow.orchestrator.broker import shared_block_cache

MIB = 1024 * 1024


def test_partitions_share_one_cache_of_the_configured_size(tmp_path: Path) -> None:
    shared_block_cache.apply()
    options = RocksDBOptions(block_cache_size=16 * MIB)
    first, second = (rocksdict.Rdict(str(tmp_path / name), options=options.as_options()) for name in ("p0", "p1"))
    try:
        for n in range(2_000):
            first[f"user-{n}".encode()] = b"x" * 500
        first.flush()
        for n in range(0, 2_000, 7):
            assert first[f"user-{n}".encode()] == b"x" * 500  # read through the block cache
        capacity = "rocksdb.block-cache-capacity"
        usage = "rocksdb.block-cache-usage"
        assert first.property_int_value(capacity) == second.property_int_value(capacity) == 16 * MIB
        assert first.property_int_value(usage) == second.property_int_value(usage) > 0  # one cache, seen by both
    finally:
        first.close()
        second.close()
