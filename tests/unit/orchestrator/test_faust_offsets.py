"""Faust's consumer offset bookkeeping at a takeover, driven directly (no broker).

The scenario is the one measured in /work/shared/notes/stack.md: a batch fetched from the committed
offset is being handed to the agent when recovery seeks the partition back to the committed offset in
the same generation; the records already queued to the agent are dropped by the rebalance, the fetcher
returns them again. Faust 0.15.3's own drain commits past them; the patched drain never does.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import faust
import faust.transport.consumer  # the patched class; `faust` alone does not import it
import pytest
from faust.types import TP
from faust.types.tuples import Message
from mode import Service

from nudgeflow.orchestrator.broker import faust_patches

TOPIC = "events"
PARTITION = TP(TOPIC, 0)
COMMITTED = 10
AGENT_LAG = 6


@dataclass
class Takeover:
    """A fetcher and an agent around one real Faust consumer: the fetcher serves `batches` in order;
    the agent is slow (it works `AGENT_LAG` records behind what it was handed) and acks what it
    processes; when it is handed `seek_at` a rebalance drops what it had queued and recovery seeks to
    the committed offset (what `_resume_streams` does)."""

    consumer: Any
    batches: list[range]
    seek_at: int
    queued: list[Message] = field(default_factory=list)
    processed: list[int] = field(default_factory=list)
    sought: list[int] = field(default_factory=list)
    while_handing_out: bool = False
    rebalanced: bool = False
    fetcher: Service = field(default_factory=Service)

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Message]]:
        if not self.batches:
            self.fetcher._stopped.set()
            return
        for offset in self.batches.pop(0):
            if offset == self.seek_at and not self.while_handing_out and not self.rebalanced:
                await self.rebalance()
            yield PARTITION, message_at(offset)

    async def rebalance(self) -> None:
        if not self.rebalanced:
            self.rebalanced = True
            self.queued.clear()  # flow control cleared the agent's queue at the rebalance
            await self.consumer.perform_seek()

    async def callback(self, message: Message) -> None:
        if message.offset == self.seek_at and self.while_handing_out and not self.rebalanced:
            await self.rebalance()
            return
        self.queued.append(message)
        while len(self.queued) > AGENT_LAG:
            self.process(self.queued.pop(0))

    def process(self, message: Message) -> None:
        self.processed.append(message.offset)
        self.consumer.ack(message)

    def catch_up(self) -> None:
        while self.queued:
            self.process(self.queued.pop(0))

    async def seek_to_committed(self) -> Mapping[TP, int]:
        self.sought.append(COMMITTED)
        return {PARTITION: COMMITTED}

    async def seek_wait(self, partitions: Mapping[TP, int]) -> None:
        self.sought.extend(partitions.values())


def message_at(offset: int) -> Message:
    return Message(TOPIC, 0, offset, 0.0, 0, None, b"user", b"{}", None, tp=PARTITION)


async def run_takeover(
    drain: Callable[..., Any], *, while_handing_out: bool, plain_read_offsets: bool = False
) -> tuple[Takeover, int | None]:
    """Runs `drain` through the takeover, the seek landing between two records or while the agent is being
    handed one; returns the harness and the offset Faust would commit next (None: nothing committable)."""
    faust_patches.apply()
    app = faust.App("offsets-test", broker="kafka://127.0.0.1:1", store="memory://")
    app.topics._acking_topics.add(TOPIC)
    consumer = app.consumer
    if plain_read_offsets:
        consumer._read_offset = defaultdict(lambda: None)
    # Records 10..29 fetched from the committed offset; recovery seeks back while 15 is handed out;
    # the fetcher then returns 10..39 from the sought position.
    takeover = Takeover(
        consumer, batches=[range(10, 30), range(10, 40)], seek_at=15, while_handing_out=while_handing_out
    )
    consumer.callback = takeover.callback
    consumer.getmany = takeover.getmany
    consumer.seek_to_committed = takeover.seek_to_committed
    consumer.seek_wait = takeover.seek_wait
    consumer.assignment = lambda: {PARTITION}
    await consumer.perform_seek()  # the assignment's first seek
    await drain(consumer, takeover.fetcher)
    takeover.catch_up()
    return takeover, commit_all(consumer)


def commit_all(consumer: Any) -> int | None:
    """What Faust's periodic commits reach: `_new_offset` returns one run of consecutive acks per call."""
    committed = None
    while (offset := consumer._new_offset(PARTITION)) is not None:
        consumer._committed_offset[PARTITION] = committed = offset
    return committed


def never_processed_below(takeover: Takeover, commit: int) -> list[int]:
    return sorted(set(range(COMMITTED, commit)) - set(takeover.processed))


async def test_faust_0_15_3_commits_past_records_nobody_processed() -> None:
    """The upstream bug, reproduced: this is what the patch exists for (faust-streaming #216/#221/#606).
    The jump after the seek is taken for a gap, and gaps count as done."""
    drain = faust_patches.upstream_drain()
    takeover, commit = await run_takeover(drain, while_handing_out=False, plain_read_offsets=True)
    assert commit == 40
    assert never_processed_below(takeover, commit) == list(range(10, 15))


async def test_faust_0_15_3_stalls_with_records_missing_when_the_seek_lands_inside_a_hand_out() -> None:
    """The other face of it: the read offset set after the hand-out overwrites the seek, the re-fetched
    records are dropped as already read, and the commit can never pass them: they stay unprocessed."""
    drain = faust_patches.upstream_drain()
    takeover, commit = await run_takeover(drain, while_handing_out=True, plain_read_offsets=True)
    assert commit is None
    assert set(range(10, 16)).isdisjoint(takeover.processed)


@pytest.mark.parametrize("while_handing_out", [False, True], ids=["between-records", "inside-a-hand-out"])
async def test_patched_drain_processes_every_record_before_committing_past_it(while_handing_out: bool) -> None:
    takeover, commit = await run_takeover(faust_patches._drain_messages, while_handing_out=while_handing_out)
    assert commit == 40
    assert commit is not None
    assert never_processed_below(takeover, commit) == []
    assert takeover.sought == [COMMITTED, COMMITTED, COMMITTED]  # assignment, recovery, the drain's seek back


async def test_a_gap_the_broker_confirms_is_passed_after_one_seek_back() -> None:
    """Records really gone (retention, compaction, transaction markers): the drain asks once, then moves on."""
    faust_patches.apply()
    app = faust.App("offsets-gap-test", broker="kafka://127.0.0.1:1", store="memory://")
    app.topics._acking_topics.add(TOPIC)
    consumer = app.consumer
    takeover = Takeover(consumer, batches=[range(20, 25), range(20, 25)], seek_at=-1)
    consumer.callback = takeover.callback
    consumer.getmany = takeover.getmany
    consumer.seek_to_committed = takeover.seek_to_committed
    consumer.seek_wait = takeover.seek_wait
    consumer.assignment = lambda: {PARTITION}
    await consumer.perform_seek()
    await faust_patches._drain_messages(consumer, takeover.fetcher)
    takeover.catch_up()
    assert takeover.sought == [COMMITTED, COMMITTED]
    assert takeover.processed == list(range(20, 25))
    assert consumer._new_offset(PARTITION) == 25


def test_refuses_another_faust_version(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(faust, "__version__", "0.16.0")
    monkeypatch.setattr(faust.transport.consumer.Consumer, "_nudgeflow_offsets_patched", False, raising=False)
    with pytest.raises(RuntimeError, match="0.15.3"):
        faust_patches.apply()


def test_reading_a_read_offset_is_not_a_seek() -> None:
    offsets = faust_patches.ReadOffsets(unknown_is_start=True)
    assert offsets[PARTITION] is None
    assert PARTITION not in offsets.expected and offsets.seeks[PARTITION] == 0
    offsets.update({PARTITION: None})  # perform_seek without a committed offset: the log start (earliest)
    assert offsets.expected[PARTITION] == 0 and offsets.seeks[PARTITION] == 1


async def test_a_partition_without_a_committed_offset_is_sought_to_the_log_start() -> None:
    """aiokafka's seek-to-committed leaves such a partition where the fetcher is: records fetched and then
    dropped at a rebalance (Faust's getmany stops a batch when the generation changes) would stay skipped."""
    faust_patches.apply()
    app = faust.App("offsets-uncommitted-test", broker="kafka://127.0.0.1:1", store="memory://")
    consumer = app.consumer
    takeover = Takeover(consumer, batches=[], seek_at=-1)

    async def nothing_committed() -> Mapping[TP, int | None]:
        return {PARTITION: None}

    consumer.seek_to_committed = nothing_committed
    consumer.seek_wait = takeover.seek_wait
    consumer.assignment = lambda: {PARTITION}
    await consumer.perform_seek()
    assert takeover.sought == [0]
    assert consumer._read_offset.expected[PARTITION] == 0
