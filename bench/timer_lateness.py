"""How late timers fire with N armed: the worker's own firing loop (`TimerFiring.run`) on the wall
clock over the worker's RocksDB timer index (`TimerIndex` on one RocksDB per partition, see
bench/timer_store.py), publishing each due timer's command to the embedded broker with the worker's
publisher (`TimerPublisher`: one command at a time, each waiting for the broker's ack).

N timers are armed through `TimerIndex.sync`, as the agent arms them; `due` of them come due over the
next `window` seconds, the rest hours later (a million users' stall timers, a few due at any moment).
A consumer of the published commands stands in for the agent: for each it deletes the entry
(`sync(user, partition, {timer: due}, {})`), leaving RocksDB tombstones as in production. Lateness is
the time the command is handed to the producer minus the due time.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import statistics
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from bench import broker as b
from bench.timer_store import PARTITIONS, TempTimerTable
from nudgeflow.orchestrator.handler import TimerPublisher
from nudgeflow.orchestrator.timers.firing import TimerFiring
from nudgeflow.orchestrator.timers.index import TimerIndex
from nudgeflow.orchestrator.timers.schedule import ScheduledTimer
from nudgeflow.rules.contracts.timers import TimerCommand


@dataclass
class TimerLateness:
    armed: int
    due_in_window: int
    window_seconds: float
    fired: int
    late_p50_ms: float
    late_p99_ms: float
    late_max_ms: float
    arm_seconds: float
    store: str  # where the armed timers are
    deleted: int  # entries the stand-in agent deleted after their command came back
    left_armed: int  # entries left after the run: armed − deleted, if every fired entry was deleted
    publish_p50_ms: float  # one command's publish, ack included
    delete_lag_p50_ms: float  # publish → entry deleted by the stand-in agent
    due_pass_after_ms: float  # one `due()` pass at the end, nothing due, heads known
    rescan_after_reset_ms: float  # the same after `reset()` (a rebalance): from each head, over the tombstones


class _ProducerSink:
    """`TimerPublisher`'s sink on a plain aiokafka producer: `await (await send(...))` waits for the ack."""

    def __init__(self, producer: AIOKafkaProducer, topic: str) -> None:
        self.producer, self.topic = producer, topic

    async def send(self, *, key: bytes | None = None, value: bytes | None = None, partition: int | None = None) -> Any:
        return await self.producer.send(self.topic, value, key=key, partition=partition)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


async def _delete_applied(
    consumer: AIOKafkaConsumer, index: TimerIndex, published: dict[tuple[str, str], float], lags: list[float]
) -> None:
    """The agent's part: each command read back deletes its timer's entry."""
    while True:
        batches = await consumer.getmany(timeout_ms=200)
        for tp, records in batches.items():
            for record in records:
                command = TimerCommand.model_validate_json(record.value or b"")
                index.sync(command.user_id, tp.partition, {command.timer_id: command.due_at}, {})
                sent = published.get((command.user_id, command.timer_id), time.perf_counter())
                lags.append((time.perf_counter() - sent) * 1000)


async def timer_lateness(bootstrap: str, armed: int, *, due: int, window: float) -> TimerLateness:
    topic = f"bench-timers-{uuid.uuid4().hex[:6]}"
    await b.create_topic(bootstrap, topic, PARTITIONS)  # partitioned like the index, as the timers topic
    # The worker's producer on the tansu profile: no linger, one record per batch.
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0, max_batch_size=1)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, fetch_max_wait_ms=20)
    await producer.start()
    try:
        await consumer.start()
        consumer.assign([TopicPartition(topic, p) for p in range(PARTITIONS)])
        await consumer.seek_to_beginning()
        return await _run(producer, consumer, topic, armed, due=due, window=window)
    finally:
        await consumer.stop()
        await producer.stop()


async def _run(
    producer: AIOKafkaProducer, consumer: AIOKafkaConsumer, topic: str, armed: int, *, due: int, window: float
) -> TimerLateness:
    late_ms: list[float] = []
    publish_ms: list[float] = []
    delete_lag_ms: list[float] = []
    published: dict[tuple[str, str], float] = {}
    finished = asyncio.Event()
    with TempTimerTable() as table:
        index = TimerIndex(table)
        publisher = TimerPublisher(_ProducerSink(producer, topic))

        async def publish(timer: ScheduledTimer) -> None:
            late_ms.append((time.time() - timer.due_at.timestamp()) * 1000)
            started = published[(timer.user_id, timer.timer_id)] = time.perf_counter()
            await publisher(timer)
            publish_ms.append((time.perf_counter() - started) * 1000)
            if len(late_ms) >= due:
                finished.set()

        firing = TimerFiring(publish, index)
        started = time.perf_counter()
        later = datetime.now(UTC) + timedelta(hours=6)
        for i in range(due, armed):  # due hours from now
            index.sync(f"user-{i:07d}", i % PARTITIONS, {}, {f"stall:{i % 7}": later + timedelta(seconds=i)})
        first_due = datetime.now(UTC) + timedelta(seconds=2)
        for i in range(due):  # due during the window, evenly spread
            at = first_due + timedelta(seconds=window * i / due)
            index.sync(f"user-{i:07d}", i % PARTITIONS, {}, {f"stall:{i % 7}": at})
        arm_seconds = time.perf_counter() - started
        gc.collect()
        agent = asyncio.create_task(_delete_applied(consumer, index, published, delete_lag_ms))
        runner = asyncio.create_task(firing.run(ready=lambda: True, owned=lambda: set(range(PARTITIONS))))
        try:
            await asyncio.wait_for(finished.wait(), timeout=window + 120)
            for _ in range(300):  # let the stand-in agent delete what was fired
                if len(delete_lag_ms) >= len(late_ms):
                    break
                await asyncio.sleep(0.1)
        finally:
            for task in (runner, agent):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        left = sum(1 for _ in table)
        now, owned = time.time(), range(PARTITIONS)
        pass_started = time.perf_counter()
        index.due(now, owned)
        due_pass_after_ms = (time.perf_counter() - pass_started) * 1000
        index.reset()
        pass_started = time.perf_counter()
        index.due(now, owned)
        rescan_ms = (time.perf_counter() - pass_started) * 1000
    ordered = sorted(late_ms)
    return TimerLateness(
        armed=armed,
        due_in_window=due,
        window_seconds=window,
        fired=len(late_ms),
        late_p50_ms=statistics.median(ordered),
        late_p99_ms=_percentile(ordered, 0.99),
        late_max_ms=ordered[-1],
        arm_seconds=arm_seconds,
        store=f"RocksDB, {PARTITIONS} partitions",
        deleted=len(delete_lag_ms),
        left_armed=left,
        publish_p50_ms=statistics.median(publish_ms),
        delete_lag_p50_ms=statistics.median(delete_lag_ms) if delete_lag_ms else 0.0,
        due_pass_after_ms=due_pass_after_ms,
        rescan_after_reset_ms=rescan_ms,
    )
