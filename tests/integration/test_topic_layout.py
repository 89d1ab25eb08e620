"""A worker refuses to start on topics whose partitions can't hold its users' timers, and says why."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from nudgeflow.orchestrator.broker.clients import aiokafka_options
from nudgeflow.orchestrator.runtime.worker import Worker
from nudgeflow.orchestrator.topics import TopicLayoutError


async def test_a_timers_topic_with_other_partitions_stops_the_worker_with_the_reason(
    make_settings,  # type: ignore[no-untyped-def]
    rules_path: Path,
) -> None:
    settings = make_settings(rules_path, topic_partitions=4)
    assert settings.kafka_bootstrap_servers
    admin = AIOKafkaAdminClient(**aiokafka_options(settings, settings.kafka_bootstrap_servers))
    await admin.start()
    try:
        await admin.create_topics([NewTopic(settings.timers_topic, 2, 1)])  # e.g. created by another deployment
    finally:
        await admin.close()
    with pytest.raises(TopicLayoutError) as raised:
        async with Worker(settings):
            pass
    message = str(raised.value)
    assert f"{settings.timers_topic} has 2 partitions" in message
    assert "NUDGEFLOW_TOPIC_PARTITIONS" in message
