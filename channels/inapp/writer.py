"""Appends records to Kafka for the API: prompt status changes, product events, preferences.

Every write returns once the broker acknowledged it (acks=all): a change the API
confirmed is durable.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaProducer

from nudgeflow.rules.contracts.prompts import Prompt, prompt_key


class RecordWriter:
    """One idempotent-enough producer (acks=all) shared by everything the API writes."""

    def __init__(self, *, kafka_options: dict[str, Any]) -> None:
        self._producer = AIOKafkaProducer(acks="all", **kafka_options)

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def send(self, topic: str, value: bytes | None, *, key: bytes, partition: int | None = None) -> None:
        await self._producer.send_and_wait(topic, value, key=key, partition=partition)


class PromptWriter(RecordWriter):
    """Writes prompts to the prompts topic, keyed `user_id/delivery_id` (compaction key), on the
    partition of the user (`user_partition`): the worker holding the user applies it to their inbox."""

    def __init__(self, *, topic: str, kafka_options: dict[str, Any], user_partition: Callable[[str], int]) -> None:
        super().__init__(kafka_options=kafka_options)
        self.topic = topic
        self.user_partition = user_partition

    async def write(self, prompt: Prompt) -> None:
        await self.send(
            self.topic,
            prompt.model_dump_json().encode(),
            key=prompt_key(prompt.user_id, prompt.delivery_id),
            partition=self.user_partition(prompt.user_id),
        )


class EventWriter:
    """Publishes Segment-spec events (dicts) to the events topic, keyed by user id, through a `RecordWriter`."""

    def __init__(self, writer: RecordWriter, *, topic: str) -> None:
        self._writer = writer
        self.topic = topic

    async def publish(self, event: dict[str, Any]) -> None:
        user_id = str(event["userId"])
        await self._writer.send(self.topic, json.dumps(event, separators=(",", ":")).encode(), key=user_id.encode())
