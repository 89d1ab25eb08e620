"""Appends prompt records to the prompts topic (the API's status changes)."""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaProducer

from channels.inapp.models import Prompt, prompt_key


class PromptWriter:
    def __init__(self, *, topic: str, kafka_options: dict[str, Any]) -> None:
        self.topic = topic
        self._producer = AIOKafkaProducer(acks="all", **kafka_options)

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def write(self, prompt: Prompt) -> None:
        """Returns once the broker has the record: a status change the API confirmed is durable."""
        await self._producer.send_and_wait(self.topic, prompt.model_dump_json().encode(),
                                           key=prompt_key(prompt.user_id, prompt.delivery_id))
