"""Nudgeflow owns partitioning: a user's events from a librdkafka producer (CRC32 partitioner), an aiokafka
producer (murmur2) and keyless producers all reach one state, so a milestone gated `after:` an earlier
one completes for every user, and every user's events sit on one partition of the by-user topic."""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from confluent_kafka import Producer

from nudgeflow.orchestrator.broker.partitioning import partition_for
from nudgeflow.orchestrator.runtime.worker import Worker
from tests.integration.faults.helpers import completions
from tests.support.events import identify, track
from tests.support.kafka import read_topic

pytestmark = pytest.mark.timeout(180)
PARTITIONS = 8
GATED = """\
id: gated
name: Gated
audience:
  role: admin
milestones:
  - id: connect_source
    title: Connect a data source
    when: {event: Data Source Connected}
  - id: invite_teammate
    title: Invite a teammate
    when: {event: Teammate Invited, after: connect_source}
    celebrate:
      - {channel: in_app, title: "Team work!", body: "done"}
"""


class LibrdkafkaProducer:
    """confluent-kafka with its defaults: keyed records are placed by CRC32 (`consistent_random`)."""

    def __init__(self, bootstrap: str) -> None:
        self._producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
        self.partitions: dict[bytes, int] = {}

    async def send(self, topic: str, key: bytes, value: bytes) -> None:
        def delivered(error: Any, message: Any) -> None:
            assert error is None, error
            self.partitions[message.key()] = message.partition()

        self._producer.produce(topic, value, key, on_delivery=delivered)
        assert await asyncio.to_thread(self._producer.flush, 20) == 0


async def test_every_user_completes_the_gated_milestone_whatever_produced_their_events(
    make_settings,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    rules = tmp_path / "gated"
    rules.mkdir()
    (rules / "gated.yaml").write_text(textwrap.dedent(GATED))
    users = [f"mix-{i:02d}" for i in range(40)]
    async with Worker(make_settings(rules, topic_partitions=PARTITIONS)) as worker:
        await worker.wait_ready(timeout=60)
        bootstrap, topic = worker.bootstrap_servers, worker.settings.events_topic
        librdkafka = LibrdkafkaProducer(bootstrap)
        murmur2 = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await murmur2.start()
        try:

            async def via(producer: int, user: str, value: bytes) -> None:
                if producer == 0:
                    await librdkafka.send(topic, user.encode(), value)
                elif producer == 1:
                    await murmur2.send_and_wait(topic, value, key=user.encode())
                else:
                    await murmur2.send_and_wait(topic, value, key=None)  # keyless: any partition

            # Per user, the identify, the gate and the gated event each come from another producer
            # (rotated over users); each step of every user is acknowledged before the next begins.
            steps = [
                lambda user: identify(user, {"role": "admin"}),
                lambda user: track(user, "Data Source Connected", {}),
                lambda user: track(user, "Teammate Invited", {}),
            ]
            for step, event in enumerate(steps):
                await asyncio.gather(*(via((n + step) % 3, user, event(user)) for n, user in enumerate(users)))
        finally:
            await murmur2.stop()

        split = [u for u in users if librdkafka.partitions[u.encode()] != partition_for(u.encode(), PARTITIONS)]
        assert len(split) >= len(users) // 2, "CRC32 and murmur2 must disagree for most users, or this proves nothing"

        expected = {(user, milestone) for user in users for milestone in ("connect_source", "invite_teammate")}
        outcomes = await read_topic(
            bootstrap,
            worker.settings.outcomes_topic,
            timeout=60,
            until=lambda values: expected <= set(completions(values)),
        )
        missing = expected - set(completions(outcomes))
        assert not missing, f"{len(missing)} completions missing, e.g. {sorted(missing)[:5]}"

        forwarded = await read_topic(bootstrap, worker.settings.user_events_topic, decode=False, timeout=20)
        partitions_of: dict[bytes, set[int]] = {}
        for record in forwarded:
            partitions_of.setdefault(record.key, set()).add(record.partition)
        assert len(forwarded) >= 3 * len(users)
        assert all(parts == {partition_for(key, PARTITIONS)} for key, parts in partitions_of.items()), partitions_of
