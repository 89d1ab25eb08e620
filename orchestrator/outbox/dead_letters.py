"""Dead-lettered deliveries, read from the deliveries topic, and their replay.

A delivery's dead letter is its `delivery_result` with status failed or exhausted (it carries
the request and the reason). It stays listed until a later result closes it as sent, or a
replay is requested. Replays go to the deliveries topic keyed by user, so they reach the
partition (and the worker) that owns the delivery's outbox row.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable

from aiokafka import AIOKafkaProducer

from nudgeflow.orchestrator.broker.clients import aiokafka_options
from nudgeflow.orchestrator.broker.follower import TopicFollower
from nudgeflow.orchestrator.settings import Settings
from nudgeflow.rules.contracts.deliveries import DeliveryResult, ReplayRequest


class DeadLetters(TopicFollower):
    """The deliveries topic folded into the dead letters still open, in the order they failed."""

    name = "dead-letters"

    def __init__(self, settings: Settings, bootstrap_servers: str) -> None:
        super().__init__(
            topics=[settings.deliveries_topic],
            kafka_options=aiokafka_options(settings, bootstrap_servers),
            missing_is_empty=True,
        )
        self.open: dict[str, DeliveryResult] = {}

    def apply(self, topic: str, key: bytes | None, value: bytes | None) -> None:
        if value is None:
            return
        document = json.loads(value)
        kind = document.get("type")
        if kind == "delivery_result":
            result = DeliveryResult.model_validate(document)
            if result.dead_letter and result.request is not None:
                self.open[result.delivery_id] = result
            else:
                self.open.pop(result.delivery_id, None)
        elif kind == "delivery_replay":
            self.open.pop(document.get("delivery_id", ""), None)


async def read_dead_letters(settings: Settings, bootstrap_servers: str, timeout: float = 30.0) -> list[DeliveryResult]:
    reader = DeadLetters(settings, bootstrap_servers)
    await reader.start()
    try:
        await asyncio.wait_for(reader.caught_up.wait(), timeout)
    finally:
        await reader.stop()
    return list(reader.open.values())


async def request_replays(settings: Settings, bootstrap_servers: str, letters: Iterable[DeliveryResult]) -> int:
    producer = AIOKafkaProducer(**aiokafka_options(settings, bootstrap_servers))
    await producer.start()
    count = 0
    try:
        for letter in letters:
            record = ReplayRequest(delivery_id=letter.delivery_id, user_id=letter.user_id)
            await producer.send_and_wait(
                settings.deliveries_topic, record.model_dump_json().encode(), key=letter.user_id.encode()
            )
            count += 1
    finally:
        await producer.stop()
    return count
