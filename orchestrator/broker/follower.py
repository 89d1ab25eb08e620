"""Follow whole topics, without a consumer group.

Every process that keeps a full view (an API replica's preferences, a dashboard's
analytics) reads every partition from the beginning itself, so it never depends on
which worker owns which partition, and a restart is a rebuild. `caught_up` is
set once the records present at start-up have been applied. A follower that only
reacts to what happens next (live streams) starts at the end (`from_end`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

log = logging.getLogger(__name__)

Loop = Callable[[], Awaitable[None]]
Spawn = Callable[[str, Loop], Callable[[], Awaitable[None]]]
"""Runs a named loop in the background (restarting it if it fails); returns how to stop it."""


class TopicFollower:
    """Subclasses apply each record (`apply`) and may react after each batch (`after_batch`)."""

    name = "follower"

    def __init__(
        self,
        *,
        topics: Sequence[str],
        kafka_options: dict[str, Any],
        topic_wait: float = 10.0,
        missing_is_empty: bool = False,
        from_end: bool = False,
    ) -> None:
        self.topics = tuple(topics)
        self.from_end = from_end
        self.topic_wait = topic_wait
        self.missing_is_empty = missing_is_empty
        self.caught_up = asyncio.Event()
        self.records = 0
        self._kafka_options = kafka_options
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._stop_loop: Callable[[], Awaitable[None]] | None = None

    def apply(self, topic: str, key: bytes | None, value: bytes | None) -> None:
        raise NotImplementedError

    def apply_record(self, topic: str, partition: int, offset: int, key: bytes | None, value: bytes | None) -> None:
        """Like `apply`, for followers that need the record's position."""
        self.apply(topic, key, value)

    def following_from(self, positions: dict[TopicPartition, int]) -> None:
        """Where a `from_end` follower starts on each partition (the next offset it reads)."""

    def after_batch(self) -> None:
        """Called after each batch of records (e.g. to wake a dashboard)."""

    @property
    def task_name(self) -> str:
        return f"{self.name}:{','.join(self.topics)}"

    async def start(self, spawn: Spawn | None = None) -> None:
        """Assign every partition from the beginning, then follow in the background: under `spawn`
        (a supervisor that restarts the loop where it stopped) or as a plain task."""
        consumer = AIOKafkaConsumer(
            enable_auto_commit=False, auto_offset_reset="earliest", group_id=None, **self._kafka_options
        )
        await consumer.start()
        self._consumer = consumer
        try:
            partitions = await self._partitions(consumer)
            end_offsets: dict[TopicPartition, int] = {}
            if partitions:
                consumer.assign(partitions)
                if self.from_end:
                    await consumer.seek_to_end(*partitions)
                    self.following_from({tp: await consumer.position(tp) for tp in partitions})
                    end_offsets = {tp: 0 for tp in partitions}  # nothing to catch up on
                else:
                    await consumer.seek_to_beginning(*partitions)
                    end_offsets = await consumer.end_offsets(partitions)
        except BaseException:
            await consumer.stop()
            self._consumer = None
            raise
        if not end_offsets:
            self.caught_up.set()  # nothing to follow
        elif spawn is not None:
            self._stop_loop = spawn(self.task_name, lambda: self._run(consumer, end_offsets))
        else:
            self._task = asyncio.create_task(self._run(consumer, end_offsets), name=self.task_name)

    async def _partitions(self, consumer: AIOKafkaConsumer) -> list[TopicPartition]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.topic_wait
        while True:
            found = {topic: consumer.partitions_for_topic(topic) or set() for topic in self.topics}
            if all(found.values()) or loop.time() > deadline:
                break
            await consumer._client.force_metadata_update()
            await asyncio.sleep(0.1)
        missing = [topic for topic, numbers in found.items() if not numbers]
        if missing and not self.missing_is_empty:
            raise RuntimeError(f"topic(s) {', '.join(missing)} do not exist")
        for topic in missing:
            log.warning("%s: topic %s does not exist; read as empty", self.name, topic)
        return [TopicPartition(topic, n) for topic, numbers in found.items() for n in sorted(numbers)]

    async def _run(self, consumer: AIOKafkaConsumer, end_offsets: dict[TopicPartition, int]) -> None:
        end_offsets = dict(end_offsets)
        pending = {tp for tp, end in end_offsets.items() if end > 0}
        unchecked = set(pending)  # until a fetch's high watermark confirmed the listed end
        if not pending:
            self.caught_up.set()
        if not end_offsets:
            return
        while True:
            batches = await consumer.getmany(timeout_ms=500, max_records=5000)
            for tp in [tp for tp in unchecked if consumer.highwater(tp) is not None]:
                # Tansu lists a batched partition's end short; the first fetch's high watermark is true.
                end_offsets[tp] = max(end_offsets[tp], consumer.highwater(tp) or 0)
                unchecked.discard(tp)
            for tp, records in batches.items():
                for record in records:
                    try:
                        self.apply_record(tp.topic, tp.partition, record.offset, record.key, record.value)
                    except Exception:  # one bad record must not stop the follower
                        log.exception("%s: cannot apply record at %s:%s", self.name, tp, record.offset)
                self.records += len(records)
                if tp in pending and records and records[-1].offset + 1 >= end_offsets[tp]:
                    pending.discard(tp)
            if pending and not batches:
                pending = {tp for tp in pending if await consumer.position(tp) < end_offsets[tp]}
            if not pending:
                self.caught_up.set()
            if batches:
                self.after_batch()

    async def stop(self) -> None:
        if self._stop_loop is not None:
            await self._stop_loop()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._consumer is not None:
            await self._consumer.stop()
