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
from nudgeflow.orchestrator.analytics.records import parse_event, parse_outcome
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
    """Replays both topics into `analytics`, then keeps following them (`caught_up` is set at the end)."""

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
        self._apply: dict[str, Callable[[bytes | None], None]] = {
            events_topic: self._event,
            outcomes_topic: self._outcome,
        }
        self._on_change = on_change

    def apply(self, topic: str, key: bytes | None, value: bytes | None) -> None:
        self._apply[topic](value)

    def after_batch(self) -> None:
        if self._on_change is not None:
            self._on_change()

    def _event(self, raw: bytes | None) -> None:
        event = parse_event(raw)
        if event is not None:
            self.analytics.add_event(event)

    def _outcome(self, raw: bytes | None) -> None:
        outcome = parse_outcome(raw)
        if outcome is not None:
            self.analytics.add_outcome(outcome)


async def replay(analytics: OnboardingAnalytics, *, timeout: float = 120.0, **topics: Any) -> OnboardingAnalytics:
    """Read both topics from the start up to their current end, then stop (for reports, digests)."""
    feed = TopicFeed(analytics, **topics)
    await feed.start()
    try:
        await asyncio.wait_for(feed.caught_up.wait(), timeout)
    finally:
        await feed.stop()
    return analytics
