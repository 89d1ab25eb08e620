"""Keeps an `InboxStore` in step with the prompts topic.

Reads every partition from the beginning without a consumer group: each API
replica holds the whole inbox, so any replica answers any user and nothing
depends on which worker owns which partition.
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


class InboxMaterializer:
    def __init__(self, store: InboxStore, *, topic: str, kafka_options: dict[str, Any]) -> None:
        self.store = store
        self.topic = topic
        self._kafka_options = kafka_options
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self.caught_up = asyncio.Event()

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(enable_auto_commit=False, auto_offset_reset="earliest",
                                    group_id=None, **self._kafka_options)
        await consumer.start()
        self._consumer = consumer
        partitions = await self._partitions(consumer)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end_offsets = await consumer.end_offsets(partitions)
        self._task = asyncio.create_task(self._run(consumer, end_offsets), name="inbox-materializer")

    async def _partitions(self, consumer: AIOKafkaConsumer) -> list[TopicPartition]:
        for _ in range(100):
            numbers = consumer.partitions_for_topic(self.topic)
            if numbers:
                return [TopicPartition(self.topic, number) for number in sorted(numbers)]
            await consumer._client.force_metadata_update()
            await asyncio.sleep(0.1)
        raise RuntimeError(f"prompts topic {self.topic!r} does not exist")

    async def _run(self, consumer: AIOKafkaConsumer, end_offsets: dict[TopicPartition, int]) -> None:
        pending = {tp for tp, end in end_offsets.items() if end > 0}
        if not pending:
            self.caught_up.set()
        while True:
            batches = await consumer.getmany(timeout_ms=500, max_records=2000)
            for tp, records in batches.items():
                for record in records:
                    self._apply(record.value)
                if tp in pending and records and records[-1].offset + 1 >= end_offsets[tp]:
                    pending.discard(tp)
            if pending and not batches:
                pending = {tp for tp in pending if await consumer.position(tp) < end_offsets[tp]}
            if not pending:
                self.caught_up.set()

    def _apply(self, raw: bytes | None) -> None:
        if raw is None:
            return
        try:
            self.store.apply(Prompt.model_validate_json(raw))
        except ValidationError as exc:
            log.warning("skipping unreadable prompt record: %s", exc)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._consumer is not None:
            await self._consumer.stop()
