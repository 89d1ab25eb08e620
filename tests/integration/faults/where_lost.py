"""Where a takeover run's missing prompts were lost: for a failed run's message and docs/faults.md.

For each partition that holds a user who lacks a prompt, it reads the records of those users on the
events topic and on the by-user topic, and the consumer groups' committed offsets: a user whose events
never reached the by-user topic was lost by the ingest stage; one whose records are there, below the
Faust group's committed offset, was skipped by the agent; above it, the partition stalled.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from nudgeflow.orchestrator.settings import Settings
from tests.support.kafka import read_topic


async def where_lost(settings: Settings, users: set[str]) -> list[str]:
    bootstrap = settings.kafka_bootstrap_servers or ""
    lines = []
    for topic, group in (
        (settings.events_topic, f"{settings.app_id}-ingest"),
        (settings.user_events_topic, settings.app_id),
    ):
        records = await read_topic(bootstrap, topic, decode=False, timeout=10)
        offsets: dict[int, list[int]] = defaultdict(list)
        ends: dict[int, int] = defaultdict(int)
        for record in records:
            ends[record.partition] = max(ends[record.partition], record.offset + 1)
            if _user_of(record.value) in users:
                offsets[record.partition].append(record.offset)
        committed = await _committed(bootstrap, group, topic, sorted(ends))
        for partition in sorted(offsets):
            found = offsets[partition]
            lines.append(
                f"{topic}[{partition}]: {len(found)} records of those users at {min(found)}..{max(found)}; "
                f"group {group} committed {committed.get(partition)}; end {ends[partition]}"
            )
    return lines


def _user_of(value: bytes) -> str | None:
    try:
        document: Any = json.loads(value)
        return str(document.get("userId")) if isinstance(document, dict) else None
    except ValueError:
        return None


async def _committed(bootstrap: str, group: str, topic: str, partitions: list[int]) -> dict[int, int | None]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        return {n: await consumer.committed(TopicPartition(topic, n)) for n in partitions}
    finally:
        await consumer.stop()
