"""`nudgeflow analytics ingest --clickhouse URL`: the ingester's batches into ClickHouse.

ClickHouse has no transaction spanning the rows and the offsets, so the order makes it safe
instead: a batch's rows are stored first, then the next offset of every partition they came from.
A crash between the two reads those records again, and they are not stored twice: a record whose
id is already there is dropped (and counted in `duplicates`), and the tables are ReplacingMergeTree
keyed by id, read with `final = 1`. Nothing is lost, nothing counts twice; only the duplicates
figure can include such a re-read.
"""

from __future__ import annotations

from aiokafka import TopicPartition

from nudgeflow.orchestrator.analytics.clickhouse.dialect import literal
from nudgeflow.orchestrator.analytics.clickhouse.engine import ClickHouseEngine
from nudgeflow.orchestrator.analytics.ingest import Batch


class ClickHouseSink:
    """Writes to one ClickHouse session (a server, or chdb in this process)."""

    wants_idle = False  # nothing to release or keep: readers never wait for the ingester

    def __init__(self, engine: ClickHouseEngine) -> None:
        self.engine = engine
        engine.create_tables()

    def idle(self) -> None:
        """Nothing to do when caught up."""

    def offsets(self) -> dict[TopicPartition, int]:
        rows = self.engine.client.query("SELECT topic, part, next_offset FROM offsets")
        return {TopicPartition(str(t), int(p)): int(o) for t, p, o in rows}

    def write(self, batch: Batch, *, release: bool) -> tuple[int, int]:
        if not batch.offsets:
            return 0, 0
        events = self.engine.load_texts("events", batch.events) if batch.events else 0
        outcomes = self.engine.load_texts("outcomes", batch.outcomes) if batch.outcomes else 0
        self.store_offsets(batch.offsets)
        return events, outcomes

    def store_offsets(self, offsets: dict[TopicPartition, int]) -> None:
        values = ", ".join(
            f"({literal(tp.topic).sql('clickhouse')}, {tp.partition}, {offset}, now64(6))"
            for tp, offset in offsets.items()
        )
        self.engine.client.command(f"INSERT INTO offsets VALUES {values}")
