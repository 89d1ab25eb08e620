"""Child process for bench/restart.py: one Worker on the given settings until ready, then a JSON line
{ready_seconds, recovered, rss_bytes[, profile]} on stdout. Its own process, so RSS is the worker's."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from bench import broker as b
from nudgeflow.orchestrator.runtime.worker import Worker
from nudgeflow.orchestrator.settings import Settings


def rss_bytes() -> int:
    """Resident set size of this process (Linux /proc)."""
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


PER_DATABASE = ("rocksdb.cur-size-all-mem-tables", "rocksdb.estimate-table-readers-mem")
SHARED_CACHE = "rocksdb.block-cache-usage"  # one cache for all partitions (broker/shared_block_cache.py)


def rocksdb_bytes(worker: Worker) -> int:
    """Memory RocksDB reports for the worker's table partitions: memtables, index and filter blocks per
    partition, plus the block cache they share (the part of RSS the settings bound: docs/deploy.md)."""
    assert worker.nudgeflow is not None
    total, cache = 0, 0
    for table in worker.nudgeflow.app.tables.values():
        databases = getattr(table.data, "_dbs", {})  # Faust's RocksDB store: one database per partition
        for db in list(databases.values()):
            total += sum(db.property_int_value(name) or 0 for name in PER_DATABASE)
            cache = max(cache, db.property_int_value(SHARED_CACHE) or 0)
    return total + cache


async def probe(settings: Settings, profile: bool) -> dict[str, Any]:
    profiler: Any = None
    if profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.005, async_mode="disabled")
        profiler.start()
    async with Worker(settings) as worker:
        ready = await worker.wait_ready(timeout=3600)
        if profiler is not None:
            profiler.stop()
        rss = rss_bytes()
        assert worker.nudgeflow is not None
        users: Any = worker.nudgeflow.app.tables["users"]
        recovered = len(users)
    out: dict[str, Any] = {"ready_seconds": ready, "recovered": recovered, "rss_bytes": rss}
    if profiler is not None:
        out["profile"] = b.top_costs(profiler, limit=12)[0]
    return out


def main() -> None:
    settings = Settings(_env_file=None, **json.loads(sys.argv[1]))
    with b.quiet_logs():
        print(json.dumps(asyncio.run(probe(settings, "--profile" in sys.argv[2:]))), flush=True)


if __name__ == "__main__":
    main()
