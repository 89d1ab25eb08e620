"""The Kafka topics Nudgeflow needs, with partitions and cleanup policies.

`nudgeflow topics create` creates them on a real cluster; the worker ensures
they exist at start-up. Faust creates its own changelog topics
(`<app_id>-users-changelog`, compacted).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from nudgeflow.orchestrator.settings import Settings

log = logging.getLogger(__name__)
FOREVER = "-1"
WEEK_MS = str(7 * 24 * 3600 * 1000)


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    purpose: str
    configs: dict[str, str] = field(default_factory=dict)
    contract: str = field(default="", kw_only=True)  # its records: `nudgeflow schema <contract>`


def topic_specs(settings: Settings) -> list[TopicSpec]:
    partitions = settings.topic_partitions
    return [
        TopicSpec(
            settings.events_topic,
            partitions,
            "Product events in (Segment spec), keyed by userId",
            {"cleanup.policy": "delete", "retention.ms": WEEK_MS},
            contract="events",
        ),
        TopicSpec(
            settings.user_events_topic,
            partitions,
            "Internal: valid events keyed by userId, partitioned by Nudgeflow (murmur2); the agent's input",
            {"cleanup.policy": "delete", "retention.ms": WEEK_MS},
            contract="events",
        ),
        TopicSpec(
            settings.dead_letter_topic,
            partitions,
            "Rejected events, original bytes + reason",
            {"cleanup.policy": "delete", "retention.ms": FOREVER},
            contract="dead_letters",
        ),
        TopicSpec(
            settings.outcomes_topic,
            partitions,
            "Completions and deliveries; replayable for analytics",
            {"cleanup.policy": "delete", "retention.ms": FOREVER},
            contract="outcomes",
        ),
        TopicSpec(
            settings.prompts_topic,
            partitions,
            "In-app prompts, latest status per prompt",
            {"cleanup.policy": "compact"},
            contract="prompts",
        ),
        TopicSpec(
            settings.preferences_topic,
            partitions,
            "Per-user notification preferences, latest per user",
            {"cleanup.policy": "compact"},
            contract="preferences",
        ),
        TopicSpec(
            settings.timers_topic,
            partitions,
            "Internal: fired timers, on the user's partition",
            {"cleanup.policy": "delete", "retention.ms": WEEK_MS},
            contract="timers",
        ),
        TopicSpec(
            settings.relay_topic,
            partitions,
            "Internal: between keys' partitions (account signals by account; notices, identity merges by user)",
            {"cleanup.policy": "delete", "retention.ms": WEEK_MS},
            contract="relay",
        ),
        TopicSpec(
            settings.deliveries_topic,
            partitions,
            "Email/Slack deliveries for the channel outboxes",
            {"cleanup.policy": "delete", "retention.ms": WEEK_MS},
            contract="deliveries",
        ),
    ]


class TopicLayoutError(RuntimeError):
    """An existing topic the worker reads per user has another partition count than the worker expects."""


def co_partitioned(settings: Settings) -> list[str]:
    """Topics read by the one per-user agent: partition N of each must hold the same users (and accounts)."""
    return [settings.user_events_topic, settings.timers_topic, settings.relay_topic]


async def ensure_topics(settings: Settings, kafka_options: dict[str, Any]) -> list[str]:
    """Create missing topics; returns the names created. Existing topics are left as they are, but the
    co-partitioned ones must have `topic_partitions` partitions: otherwise timers would land on a
    partition another worker owns (or none), so the worker refuses to start with the reason."""
    admin = AIOKafkaAdminClient(**kafka_options)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [spec for spec in topic_specs(settings) if spec.name not in existing]
        for spec in missing:  # one at a time: a concurrent creator must not fail the others
            try:
                await admin.create_topics(
                    [NewTopic(spec.name, spec.partitions, settings.replication_factor, topic_configs=spec.configs)]
                )
            except TopicAlreadyExistsError:
                log.info("topic %s was created concurrently", spec.name)
        await _wait_for_metadata(admin, {spec.name for spec in missing})
        _check_partitions(settings, await admin.describe_topics(co_partitioned(settings)))
        return [spec.name for spec in missing]
    finally:
        await admin.close()


async def _wait_for_metadata(admin: AIOKafkaAdminClient, names: set[str]) -> None:
    for _ in range(50):
        if names <= set(await admin.list_topics()):
            return
        await asyncio.sleep(0.1)


def _check_partitions(settings: Settings, described: list[dict[str, Any]]) -> None:
    wrong = {
        topic["topic"]: len(topic["partitions"])
        for topic in described
        if topic["partitions"] and len(topic["partitions"]) != settings.topic_partitions
    }
    if wrong:
        found = ", ".join(f"{name} has {count}" for name, count in sorted(wrong.items()))
        raise TopicLayoutError(
            f"{found} partitions; the worker needs {settings.topic_partitions} (NUDGEFLOW_TOPIC_PARTITIONS) on "
            f"each of {', '.join(co_partitioned(settings))}. Set NUDGEFLOW_TOPIC_PARTITIONS to match, or give "
            "this deployment its own topics (NUDGEFLOW_APP_ID, NUDGEFLOW_EVENTS_TOPIC, NUDGEFLOW_TIMERS_TOPIC)."
        )
