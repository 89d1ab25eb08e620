"""`nudgeflow analytics ingest`: keeps a DuckDB file up to date from the events and outcomes topics.

A process of its own, beside the worker: plain aiokafka, no consumer group and no offsets in
Kafka, so it never slows or rebalances the pipeline; it may lag. Exactly once into DuckDB: each
flush writes the rows *and* the next offset of every partition it covers in one DuckDB
transaction, and a (re)start seeks to the stored offsets. A crash before COMMIT loses the
transaction and the offsets with it, so those records are read again; after COMMIT both are
there. Nothing is lost and nothing is counted twice.

The file is opened only for the length of a flush, so `report --db` (read-only) can open it in
between; when a reader holds it, the flush waits and retries (the ingester lags, that is all).

The same loop writes to ClickHouse instead (`clickhouse/sink.py`, `analytics ingest --clickhouse`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import duckdb
from aiokafka import AIOKafkaConsumer, TopicPartition

from nudgeflow.orchestrator.analytics import snapshot, store

log = logging.getLogger(__name__)


def open_when_free(path: Path, *, read_only: bool = False, timeout: float = 60.0) -> duckdb.DuckDBPyConnection:
    """Open the database file, waiting while another process holds it."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return store.connect(path, read_only=read_only)
        except (duckdb.IOException, duckdb.ConnectionException):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def stored_offsets(path: Path) -> dict[TopicPartition, int]:
    connection = open_when_free(path)
    try:
        rows = connection.execute("SELECT topic, part, next_offset FROM offsets").fetchall()
    finally:
        connection.close()
    return {TopicPartition(str(t), int(p)): int(o) for t, p, o in rows}


class Sink(Protocol):
    """Where the ingester's batches go. Called from a worker thread, one call at a time."""

    def offsets(self) -> dict[TopicPartition, int]:
        """The next offset to read of every partition written so far."""

    def write(self, batch: Batch, *, release: bool) -> tuple[int, int]:
        """Store the batch's records and offsets; (new events, new outcomes). `release`: nothing more
        is coming for now (a file database lets readers in)."""

    def idle(self) -> None:
        """The ingester has caught up (nothing fetched, nothing pending): let readers in, tidy up."""

    @property
    def wants_idle(self) -> bool:
        """`idle` has something to do: a cheap check, made at every empty fetch."""


@dataclass
class Batch:
    """Records read since the last flush, and the next offset of each partition they came from."""

    events: list[str] = field(default_factory=list)
    outcomes: list[str] = field(default_factory=list)
    offsets: dict[TopicPartition, int] = field(default_factory=dict)
    started: float = 0.0

    def __len__(self) -> int:
        return len(self.events) + len(self.outcomes)


def write(connection: duckdb.DuckDBPyConnection, batch: Batch) -> tuple[int, int]:
    """Rows and offsets in one transaction (see the module docstring)."""
    connection.execute("BEGIN TRANSACTION")
    try:
        kept = store.add_texts(connection, batch.events, batch.outcomes)
        parts = list(batch.offsets.items())
        connection.execute(
            "INSERT INTO offsets SELECT unnest($topics), unnest($parts), unnest($next) "
            "ON CONFLICT (topic, part) DO UPDATE SET next_offset = excluded.next_offset",
            {
                "topics": [tp.topic for tp, _ in parts],
                "parts": [tp.partition for tp, _ in parts],
                "next": [o for _, o in parts],
            },
        )
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    return kept


class DuckDBFileSink:
    """The DuckDB file: opened for a flush and closed after it, so read-only readers can open it in
    between, except while a backlog is read (held up to `hold_seconds`, saving a checkpoint per flush)."""

    def __init__(self, path: Path, *, hold_seconds: float = 5.0, snapshot_seconds: float = 60.0) -> None:
        self.path, self.hold_seconds, self.snapshot_seconds = path, hold_seconds, snapshot_seconds
        self._connection: duckdb.DuckDBPyConnection | None = None
        self._opened_at = 0.0
        self._snapshot_at = -snapshot_seconds  # due at the first idle moment
        self._written = False  # rows added since the kept snapshot
        open_when_free(path).close()  # create the schema

    def offsets(self) -> dict[TopicPartition, int]:
        return stored_offsets(self.path)

    def write(self, batch: Batch, *, release: bool) -> tuple[int, int]:
        try:
            if self._connection is None:
                self._connection, self._opened_at = open_when_free(self.path), time.monotonic()
            kept = write(self._connection, batch) if batch.offsets else (0, 0)
            self._written = self._written or bool(batch.offsets)
            return kept
        except BaseException:
            release = True
            raise
        finally:
            if self._connection is not None and (release or time.monotonic() - self._opened_at >= self.hold_seconds):
                self._connection.close()
                self._connection = None

    def idle(self) -> None:
        """Caught up: keep the reports' snapshot (snapshot.py) when rows came since and it is due, then
        close the file so readers can open it."""
        try:
            if self._snapshot_due():
                if self._connection is None:
                    self._connection = open_when_free(self.path)
                snapshot.persist(self._connection)
                self._snapshot_at, self._written = time.monotonic(), False
        finally:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    @property
    def wants_idle(self) -> bool:
        return self._connection is not None or self._snapshot_due()

    def _snapshot_due(self) -> bool:
        return self._written and time.monotonic() - self._snapshot_at >= self.snapshot_seconds


class Ingester:
    """Reads both topics from the stored offsets on and flushes every `flush_rows` records or
    `flush_seconds`, whichever comes first. While it works through a backlog (size-triggered
    flushes) it keeps the file open for up to `hold_seconds`, which saves a checkpoint per flush;
    otherwise it closes the file after each flush so readers can open it."""

    def __init__(
        self,
        target: Path | Sink,
        *,
        events_topic: str,
        outcomes_topic: str,
        kafka_options: dict[str, Any],
        flush_rows: int = 50_000,
        flush_seconds: float = 1.0,
        topic_wait: float = 30.0,
        hold_seconds: float = 5.0,
        snapshot_seconds: float = 60.0,
        on_flush: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.target, self.kafka_options = target, kafka_options
        self.events_topic, self.outcomes_topic = events_topic, outcomes_topic
        self.flush_rows, self.flush_seconds, self.topic_wait = flush_rows, flush_seconds, topic_wait
        self.on_flush, self.hold_seconds, self.snapshot_seconds = on_flush, hold_seconds, snapshot_seconds
        self.sink: Sink | None = None
        self.totals: dict[str, float] = {"read": 0, "events": 0, "outcomes": 0, "flushes": 0, "write_seconds": 0.0}
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def _partitions(self, consumer: AIOKafkaConsumer) -> list[TopicPartition]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.topic_wait
        topics = (self.events_topic, self.outcomes_topic)
        while True:
            found = {t: consumer.partitions_for_topic(t) or set() for t in topics}
            if all(found.values()) or loop.time() > deadline or self._stopping.is_set():
                break
            await consumer._client.force_metadata_update()
            await asyncio.sleep(0.2)
        for topic in (t for t, numbers in found.items() if not numbers):
            log.warning("topic %s does not exist (yet): not ingested until a restart", topic)
        return [TopicPartition(t, n) for t, numbers in found.items() for n in sorted(numbers)]

    async def run(self) -> None:
        consumer = AIOKafkaConsumer(
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            group_id=None,
            max_partition_fetch_bytes=8 * 1024 * 1024,
            **self.kafka_options,
        )
        await consumer.start()
        try:
            target = self.target
            self.sink = sink = (
                await asyncio.to_thread(
                    DuckDBFileSink, target, hold_seconds=self.hold_seconds, snapshot_seconds=self.snapshot_seconds
                )
                if isinstance(target, Path)
                else target
            )
            partitions = await self._partitions(consumer)
            if not partitions:
                return
            consumer.assign(partitions)
            stored = await asyncio.to_thread(sink.offsets)
            for tp in partitions:
                if tp in stored:
                    consumer.seek(tp, stored[tp])
                else:
                    await consumer.seek_to_beginning(tp)
            await self._consume(consumer)
        finally:
            await consumer.stop()

    async def _consume(self, consumer: AIOKafkaConsumer) -> None:
        """Fetch the next batch while the previous one is written; commits stay in order (one at a time)."""
        batch, writing = Batch(), None
        while not self._stopping.is_set():
            fetched = await consumer.getmany(timeout_ms=200, max_records=self.flush_rows)
            for tp, records in fetched.items():
                target = batch.events if tp.topic == self.events_topic else batch.outcomes
                target.extend(r.value.decode(errors="replace") for r in records if r.value is not None)
                if records:
                    batch.offsets[tp] = records[-1].offset + 1
                    batch.started = batch.started or time.monotonic()
                    self.totals["read"] += len(records)
            caught_up = not fetched and not batch.offsets and (writing is None or writing.done())
            if caught_up and self.sink is not None and self.sink.wants_idle:
                await asyncio.to_thread(self.sink.idle)  # let readers in, keep the snapshot
            due = batch.offsets and time.monotonic() - batch.started >= self.flush_seconds
            if len(batch) >= self.flush_rows or due:
                if writing is not None:
                    await writing
                writing = asyncio.create_task(self._flush(batch, release=len(batch) < self.flush_rows))
                batch = Batch()
        if writing is not None:
            await writing
        await self._flush(batch, release=True)
        if self.sink is not None and self.sink.wants_idle:
            await asyncio.to_thread(self.sink.idle)  # stopped: the file closed, the snapshot kept

    async def _flush(self, batch: Batch, *, release: bool) -> None:
        if self.sink is None or not batch.offsets:
            return
        started = time.perf_counter()
        events, outcomes = await asyncio.to_thread(self.sink.write, batch, release=release)
        if not batch.offsets:
            return
        self.totals["write_seconds"] = round(self.totals["write_seconds"] + time.perf_counter() - started, 3)
        self.totals["events"] += events
        self.totals["outcomes"] += outcomes
        self.totals["flushes"] += 1
        if self.on_flush is not None:
            self.on_flush(
                {**self.totals, "offsets": {f"{tp.topic}:{tp.partition}": o for tp, o in batch.offsets.items()}}
            )


def print_progress(progress: dict[str, Any]) -> None:
    """One JSON line per flush on stdout, for operators and tests."""
    print(json.dumps(progress), flush=True)
