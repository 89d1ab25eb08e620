"""Backfill from the real broker: replaying outcomes + events gives the in-memory answer,
and a following feed picks up records published later."""

from __future__ import annotations

import json

import pytest

from nudgeflow.orchestrator.analytics import OnboardingAnalytics
from nudgeflow.orchestrator.analytics.source import TopicFeed, kafka_settings, replay
from nudgeflow.orchestrator.broker.clients import aiokafka_options
from nudgeflow.orchestrator.topics import ensure_topics
from tests.support.analytics import EVENTS, OUTCOMES, PLAYBOOK, completed, identify
from tests.support.kafka import eventually, produce

pytestmark = pytest.mark.integration


def _records(items: list[dict], key: str) -> list[tuple[bytes | None, bytes]]:
    return [(item[key].encode(), json.dumps(item).encode()) for item in items]


async def test_replay_from_the_beginning_matches_the_in_memory_report(make_settings, tmp_path) -> None:
    settings = make_settings(tmp_path)
    assert settings.kafka_bootstrap_servers
    await ensure_topics(settings, aiokafka_options(settings, settings.kafka_bootstrap_servers))
    bootstrap = settings.kafka_bootstrap_servers
    # outcomes before events, duplicates included: order on the topics does not matter
    await produce(bootstrap, settings.outcomes_topic, _records(OUTCOMES, "user_id"))
    await produce(bootstrap, settings.events_topic, _records(EVENTS, "userId") + [(b"u9", b"not json")])

    replayed = await replay(OnboardingAnalytics([PLAYBOOK]), **kafka_settings(settings))
    expected = OnboardingAnalytics([PLAYBOOK])
    expected.add_all(EVENTS, OUTCOMES)
    assert replayed.report().model_dump() == expected.report().model_dump()
    assert replayed.duplicates == 2
    assert replayed.ttfv()[0].reached == 3

    live = OnboardingAnalytics([PLAYBOOK])
    feed = TopicFeed(live, **kafka_settings(settings))
    await feed.start()
    try:
        await eventually(feed.caught_up.is_set)
        await produce(bootstrap, settings.events_topic, _records([identify("u7", "u7-id", 3, role="admin")], "userId"))
        await produce(bootstrap, settings.outcomes_topic, _records([completed("u7", 4, "a")], "user_id"))
        await eventually(lambda: live.ttfv()[0].reached == 4)
        assert live.ttfv()[0].overall.users == 4
    finally:
        await feed.stop()
