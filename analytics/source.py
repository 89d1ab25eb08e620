"""Feeds `OnboardingAnalytics` from the outcomes and events topics.

Plain aiokafka, no consumer group, every partition from the beginning (like the in-app
inbox materializer): each dashboard or report process rebuilds the whole picture, so a
backfill is just a restart, and no offsets are shared with the worker.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from analytics.model import OnboardingAnalytics
from analytics.records import parse_event, parse_outcome
from orchestrator.settings import Settings

log = logging.getLogger(__name__)


def kafka_settings(settings: Settings) -> dict[str, Any]:
    """Topic names and client options from Nudgeflow's settings."""
    from orchestrator.broker.clients import aiokafka_options

    if not settings.kafka_bootstrap_servers:
        raise ValueError("set NUDGEFLOW_KAFKA_BOOTSTRAP_SERVERS to the broker the worker uses")
    return {"events_topic": settings.events_topic, "outcomes_topic": settings.outcomes_topic,
            "kafka_options": aiokafka_options(settings, settings.kafka_bootstrap_servers)}


class TopicFeed:
    """Replays both topics into `analytics`, then keeps following them (`caught_up` is set at the end)."""

    def __init__(self, analytics: OnboardingAnalytics, *, events_topic: str, outcomes_topic: str,
                 kafka_options: dict[str, Any], on_change: Callable[[], None] | None = None) -> None:
        self.analytics = analytics
        self._apply: dict[str, Callable[[bytes | None], None]] = {
            events_topic: self._event, outcomes_topic: self._outcome}
        self._kafka_options = kafka_options
        self._on_change = on_change
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self.caught_up = asyncio.Event()
        self.records = 0

    def _event(self, raw: bytes | None) -> None:
        event = parse_event(raw)
        if event is not None:
            self.analytics.add_event(event)

    def _outcome(self, raw: bytes | None) -> None:
        outcome = parse_outcome(raw)
        if outcome is not None:
            self.analytics.add_outcome(outcome)

    async def start(self, topic_wait: float = 10.0) -> None:
        consumer = AIOKafkaConsumer(enable_auto_commit=False, auto_offset_reset="earliest", group_id=None,
                                    **self._kafka_options)
        await consumer.start()
        self._consumer = consumer
        partitions = await self._partitions(consumer, topic_wait)
        end_offsets: dict[TopicPartition, int] = {}
        if partitions:
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            end_offsets = await consumer.end_offsets(partitions)
        self._task = asyncio.create_task(self._run(consumer, end_offsets), name="analytics-feed")

    async def _partitions(self, consumer: AIOKafkaConsumer, wait: float) -> list[TopicPartition]:
        """Both topics' partitions; a topic still missing after `wait` seconds is skipped."""
        found: dict[str, set[int]] = {}
        deadline = asyncio.get_running_loop().time() + wait
        while True:
            found = {t: consumer.partitions_for_topic(t) or set() for t in self._apply}
            if all(found.values()) or asyncio.get_running_loop().time() > deadline:
                break
            await consumer._client.force_metadata_update()
            await asyncio.sleep(0.2)
        for topic, numbers in found.items():
            if not numbers:
                log.warning("topic %s does not exist; analytics reads it as empty", topic)
        return [TopicPartition(t, n) for t, numbers in found.items() for n in sorted(numbers)]

    async def _run(self, consumer: AIOKafkaConsumer, end_offsets: dict[TopicPartition, int]) -> None:
        pending = {tp for tp, end in end_offsets.items() if end > 0}
        if not pending:
            self.caught_up.set()
        if not end_offsets:
            return
        while True:
            batches = await consumer.getmany(timeout_ms=500, max_records=5000)
            for tp, records in batches.items():
                for record in records:
                    self._apply[tp.topic](record.value)
                self.records += len(records)
                if tp in pending and records and records[-1].offset + 1 >= end_offsets[tp]:
                    pending.discard(tp)
            if pending and not batches:
                pending = {tp for tp in pending if await consumer.position(tp) < end_offsets[tp]}
            if not pending:
                self.caught_up.set()
            if batches and self._on_change is not None:
                self._on_change()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._consumer is not None:
            await self._consumer.stop()


async def replay(analytics: OnboardingAnalytics, *, timeout: float = 120.0, **topics: Any) -> OnboardingAnalytics:
    """Read both topics from the start up to their current end, then stop (for reports, digests)."""
    feed = TopicFeed(analytics, **topics)
    await feed.start()
    try:
        await asyncio.wait_for(feed.caught_up.wait(), timeout)
    finally:
        await feed.stop()
    return analytics
