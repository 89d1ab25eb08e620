"""Keeps an in-memory store in step with a compacted topic.

Reads every partition from the beginning without a consumer group: each API
replica holds the whole topic, so any replica answers any user and nothing
depends on which worker owns which partition. `TopicMaterializer` is the
generic follower; `InboxMaterializer` feeds the prompts topic into an
`InboxStore` (the preferences topic has its own, in channels.preferences).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import ValidationError

from channels.inapp.models import Prompt
from channels.inapp.store import InboxStore

log = logging.getLogger(__name__)


class TopicMaterializer:
    """Follows `topic` from the beginning; subclasses apply each record. `caught_up` is set once the
    records present at start-up have been applied."""

    name = "materializer"

    def __init__(self, *, topic: str, kafka_options: dict[str, Any]) -> None:
        self.topic = topic
        self._kafka_options = kafka_options
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self.caught_up = asyncio.Event()

    def apply_record(self, key: bytes | None, value: bytes | None) -> None:
        raise NotImplementedError

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(enable_auto_commit=False, auto_offset_reset="earliest",
                                    group_id=None, **self._kafka_options)
        await consumer.start()
        self._consumer = consumer
        try:
            partitions = await self._partitions(consumer)
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            end_offsets = await consumer.end_offsets(partitions)
        except BaseException:
            await consumer.stop()
            raise
        self._task = asyncio.create_task(self._run(consumer, end_offsets), name=f"{self.name}:{self.topic}")

    async def _partitions(self, consumer: AIOKafkaConsumer) -> list[TopicPartition]:
        for _ in range(100):
            numbers = consumer.partitions_for_topic(self.topic)
            if numbers:
                return [TopicPartition(self.topic, number) for number in sorted(numbers)]
            await consumer._client.force_metadata_update()
            await asyncio.sleep(0.1)
        raise RuntimeError(f"topic {self.topic!r} does not exist")

    async def _run(self, consumer: AIOKafkaConsumer, end_offsets: dict[TopicPartition, int]) -> None:
        pending = {tp for tp, end in end_offsets.items() if end > 0}
        if not pending:
            self.caught_up.set()
        while True:
            batches = await consumer.getmany(timeout_ms=500, max_records=2000)
            for tp, records in batches.items():
                for record in records:
                    try:
                        self.apply_record(record.key, record.value)
                    except Exception:  # one bad record must not stop the follower
                        log.exception("%s: cannot apply record at %s:%s", self.name, tp, record.offset)
                if tp in pending and records and records[-1].offset + 1 >= end_offsets[tp]:
                    pending.discard(tp)
            if pending and not batches:
                pending = {tp for tp in pending if await consumer.position(tp) < end_offsets[tp]}
            if not pending:
                self.caught_up.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._consumer is not None:
            await self._consumer.stop()


class InboxMaterializer(TopicMaterializer):
    name = "inbox-materializer"

    def __init__(self, store: InboxStore, *, topic: str, kafka_options: dict[str, Any]) -> None:
        super().__init__(topic=topic, kafka_options=kafka_options)
        self.store = store

    def apply_record(self, key: bytes | None, value: bytes | None) -> None:
        if value is None:
            return
        try:
            self.store.apply(Prompt.model_validate_json(value))
        except ValidationError as exc:
            log.warning("skipping unreadable prompt record: %s", exc)
