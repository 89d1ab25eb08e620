"""How Faust keeps the worker's tables (users, outbox): RocksDB on local disk, partitioned like the topics.

Each table partition is its own RocksDB database under `NUDGEFLOW_TABLE_DIR`, with a bounded block
cache and memtable, so a worker's memory follows the partitions it holds, not the number of users.
Faust records the changelog offset each database has applied; a restart with its data directory
reads only the changelog records written since, instead of replaying the whole changelog.
"""

from __future__ import annotations

from typing import Any

from nudgeflow.orchestrator.settings import Settings


def store_options(settings: Settings) -> dict[str, Any]:
    """RocksDB options of each table partition (Faust passes them to rocksdict)."""
    return {
        "block_cache_size": settings.rocksdb_block_cache_bytes,
        "write_buffer_size": settings.rocksdb_write_buffer_bytes,
        "max_write_buffer_number": 2,
        "max_open_files": 256,
    }
