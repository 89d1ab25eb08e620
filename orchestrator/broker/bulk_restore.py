"""Restore a table partition from its changelog in bulk, beside Faust's per-record recovery.

Faust's recovery hands every changelog record through its consumer, a queue, an
`asyncio.wait_for` and the table's callbacks before the RocksDB write: ~800 µs a record on
this machine (bench/restart.py's profile, docs/benchmarks.md), so a worker whose local state
was lost needed 14 minutes for a million users. What Faust finally does with a record is
simple: put its raw key and value (or delete the key) in the partition's RocksDB and remember
the offset (`faust/stores/rocksdb.py`, `apply_changelog_batch`).

So, once Faust has worked out where recovery of its active partitions starts and ends
(`Recovery._build_offsets`), partitions with at least `NUDGEFLOW_BULK_RESTORE_MIN_RECORDS` to
read are read here with a consumer of our own in large fetches and written with one RocksDB
write batch per fetched batch; the stored offset moves with each write, as Faust's does.
Faust's recovery then finds nothing left (or the few records written since) and goes on as
usual. A rebalance cancels this at a fetch, between writes: what was written is complete, and
the next recovery starts after it.
Standby partitions keep Faust's path: they catch up in the background and don't hold readiness.
"""

from __future__ import annotations

import logging
import time
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

import aiokafka

from nudgeflow.orchestrator import metrics
from nudgeflow.orchestrator.broker.side_consumer import side_consumer

log = logging.getLogger(__name__)

# Tansu answers a fetch when its wait expires, with what it gathered by then, and seeking into a large
# partition of its memory store takes a while: 5 ms returned nothing at 1 M records, 20 ms 16,000
# records/s, 200 ms 44,000/s, 500 ms 37,000/s. Apache Kafka answers as soon as it has the bytes.
FETCH_WAIT_MS = 200
MAX_RECORDS_PER_FETCH = 50_000
PARTITION_FETCH_BYTES = 8 * 2**20


@dataclass(frozen=True, slots=True)
class Restored:
    records: int
    partitions: int
    seconds: float


def _on_rocksdb(table: Any) -> bool:
    """Whether the table keeps its data in RocksDB (the memory store has nothing to restore into)."""
    store = getattr(table, "data", None)
    return hasattr(store, "_db_for_partition") and hasattr(store, "set_persisted_offset")


def _write(store: Any, partition: int, records: list[Any]) -> None:
    """One fetched batch of one partition: a RocksDB write batch, then the stored offset (Faust's order)."""
    import rocksdict

    batch = rocksdict.WriteBatch(raw_mode=True)
    for record in records:
        if record.value is None:
            batch.delete(record.key)
        else:
            batch.put(record.key, record.value)
    store._db_for_partition(partition).write(batch)


async def restore(
    app: Any, tables: dict[Any, Any], offsets: MutableMapping[Any, int], ends: dict[Any, int], *, stall_seconds: float
) -> Restored:
    """Reads each changelog partition in `tables` (tables on RocksDB) from after `offsets[tp]` (the
    last applied offset, -1 for none) through `ends[tp]` (the last offset to read) into its table's
    RocksDB, raising `offsets[tp]` as it goes. Stops early, leaving the rest to Faust, when no record came for
    `stall_seconds`."""
    started = time.perf_counter()
    consumer = side_consumer(
        app,
        "bulk-restore",
        fetch_max_wait_ms=FETCH_WAIT_MS,
        max_partition_fetch_bytes=PARTITION_FETCH_BYTES,
        fetch_max_bytes=len(tables) * PARTITION_FETCH_BYTES,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    records = 0
    try:
        as_faust = {aiokafka.TopicPartition(tp.topic, tp.partition): tp for tp in tables}
        wanted = set(as_faust)
        consumer.assign(list(wanted))
        for kafka_tp in wanted:
            consumer.seek(kafka_tp, offsets[as_faust[kafka_tp]] + 1)
        last_progress = time.monotonic()
        while wanted:
            batches = await consumer.getmany(*wanted, timeout_ms=200, max_records=MAX_RECORDS_PER_FETCH)
            for kafka_tp, fetched in batches.items():
                tp = as_faust[kafka_tp]
                fetched = [r for r in fetched if r.offset > offsets[tp] and r.offset <= ends[tp]]
                if not fetched:
                    continue
                store = tables[tp].data
                _write(store, tp.partition, fetched)
                offsets[tp] = fetched[-1].offset
                store.set_persisted_offset(tp, offsets[tp])
                records += len(fetched)
                last_progress = time.monotonic()
            for kafka_tp in list(wanted):
                tp = as_faust[kafka_tp]
                if offsets[tp] >= ends[tp] or await consumer.position(kafka_tp) > ends[tp]:
                    wanted.discard(kafka_tp)  # read through its end (compaction may have left no record at it)
            if wanted and time.monotonic() - last_progress > stall_seconds:
                log.warning(
                    "bulk restore: nothing read for %.0f s; Faust restores the rest of %s", stall_seconds, wanted
                )
                break
    finally:
        await consumer.stop()
        metrics.RESTORED_RECORDS.inc(records)
    return Restored(records=records, partitions=len(tables), seconds=time.perf_counter() - started)


_PATCHED_FLAG = "_nudgeflow_bulk_restore"
_MIN_RECORDS = "_nudgeflow_bulk_restore_min_records"


def use_bulk_restore(app: Any, *, min_records: int) -> None:
    """`app`'s recovery of active partitions reads changelogs through `restore` first when at least
    `min_records` are behind (call before the app starts; other apps keep Faust's path)."""
    setattr(app, _MIN_RECORDS, min_records)
    from faust.tables.recovery import Recovery

    if getattr(Recovery, _PATCHED_FLAG, False):
        return
    build_offsets = Recovery._build_offsets
    wait = Recovery._wait

    async def _build_offsets(self: Any, consumer: Any, tps: Any, destination: Any, title: str) -> None:
        await build_offsets(self, consumer, tps, destination, title)
        min_records = getattr(self.app, _MIN_RECORDS, None)
        if title != "active" or min_records is None:
            return
        # Faust's highwater here is the offset of the partition's last record.
        ends = {tp: self.active_highwaters.get(tp, -1) for tp in tps}
        behind = {tp: self.tp_to_table[tp] for tp in tps if ends[tp] - destination[tp] >= 1}
        behind = {tp: table for tp, table in behind.items() if _on_rocksdb(table)}
        if not behind or sum(ends[tp] - destination[tp] for tp in behind) < min_records:
            return
        try:
            done = await restore(
                self.app, behind, destination, ends, stall_seconds=self.app.conf.broker_request_timeout
            )
        except Exception:  # Faust's own recovery reads what is left; it must never stop for this
            log.exception("bulk restore failed; Faust's recovery reads the rest of the changelogs")
            return
        log.info(
            "Bulk restore: %d changelog records of %d partitions in %.1f s (%.0f/s)",
            done.records,
            done.partitions,
            done.seconds,
            done.records / max(done.seconds, 1e-9),
        )

    async def _wait(self: Any, coro: Any, timeout: Any = None) -> None:
        # Faust bounds each recovery step by broker_request_timeout (10 s on Tansu), and a step that
        # times out stops recovery for good. The bulk read takes as long as the changelog is long;
        # `restore` has its own bound: no record for that long.
        if getattr(coro, "cr_code", None) is _build_offsets.__code__:
            timeout = None
        await wait(self, coro, timeout=timeout)

    Recovery._build_offsets = _build_offsets  # type: ignore[method-assign]
    Recovery._wait = _wait  # type: ignore[method-assign]
    setattr(Recovery, _PATCHED_FLAG, True)
