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

from nudgeflow.orchestrator.analytics.model import OnboardingAnalytics
from nudgeflow.orchestrator.broker.follower import TopicFollower
from nudgeflow.orchestrator.settings import Settings

log = logging.getLogger(__name__)


def kafka_settings(settings: Settings) -> dict[str, Any]:
    """Topic names and client options from Nudgeflow's settings."""
    from nudgeflow.orchestrator.broker.clients import aiokafka_options

    if not settings.kafka_bootstrap_servers:
        raise ValueError("set NUDGEFLOW_KAFKA_BOOTSTRAP_SERVERS to the broker the worker uses")
    return {
        "events_topic": settings.events_topic,
        "outcomes_topic": settings.outcomes_topic,
        "kafka_options": aiokafka_options(settings, settings.kafka_bootstrap_servers),
    }


class TopicFeed(TopicFollower):
    """Replays both topics into `analytics`, then keeps following them (`caught_up` is set at the end).
    Values are buffered and handed to DuckDB once per fetched batch, which parses them in bulk."""

    name = "analytics-feed"

    def __init__(
        self,
        analytics: OnboardingAnalytics,
        *,
        events_topic: str,
        outcomes_topic: str,
        kafka_options: dict[str, Any],
        on_change: Callable[[], None] | None = None,
        topic_wait: float = 10.0,
    ) -> None:
        super().__init__(
            topics=[events_topic, outcomes_topic],
            kafka_options=kafka_options,
            topic_wait=topic_wait,
            missing_is_empty=True,
        )
        self.analytics = analytics
        self._events_topic = events_topic
        self._buffers: dict[str, list[str]] = {events_topic: [], outcomes_topic: []}
        self._outcomes_topic = outcomes_topic
        self._on_change = on_change

    def apply(self, topic: str, key: bytes | None, value: bytes | None) -> None:
        if value is not None:
            self._buffers[topic].append(value.decode(errors="replace"))

    def after_batch(self) -> None:
        events, outcomes = self._buffers[self._events_topic], self._buffers[self._outcomes_topic]
        self._buffers = {self._events_topic: [], self._outcomes_topic: []}
        self.analytics.add_texts(events, outcomes)
        if self._on_change is not None:
            self._on_change()


async def replay(analytics: OnboardingAnalytics, *, timeout: float = 120.0, **topics: Any) -> OnboardingAnalytics:
    """Read both topics from the start up to their current end, then stop (for reports, digests)."""
    feed = TopicFeed(analytics, **topics)
    await feed.start()
    try:
        await asyncio.wait_for(feed.caught_up.wait(), timeout)
    finally:
        await feed.stop()
    return analytics
