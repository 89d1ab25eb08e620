"""Tansu's ListOffsets "latest" and the correction Nudgeflow makes to it, on the real broker.

If a Tansu release lists the right end, the first assertion fails and tells us the correction (and
the docs' account of it) can go."""

from __future__ import annotations

import asyncio
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from nudgeflow.orchestrator.broker.embedded import EmbeddedBroker
from nudgeflow.orchestrator.broker.tansu_offsets import true_end_offsets


async def _produce_batches(bootstrap: str, topic: str, sizes: list[int]) -> None:
    """Each size is one produce request: one record batch of that many records."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=50)
    await producer.start()
    try:
        for size in sizes:
            acks = [await producer.send(topic, b"x", key=b"k", partition=0) for _ in range(size)]
            await asyncio.gather(*acks)
    finally:
        await producer.stop()


async def test_the_listed_end_of_a_batched_partition_is_short_and_the_probe_finds_the_true_end(
    broker: EmbeddedBroker,
) -> None:
    topic = f"t{uuid.uuid4().hex[:8]}.offsets"
    await _produce_batches(broker.bootstrap_servers, topic, [10, 7])
    empty_topic = f"{topic}.empty"
    probe = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap_servers, group_id=None, enable_auto_commit=False)
    await probe.start()
    try:
        tp = TopicPartition(topic, 0)
        listed = await probe.end_offsets([tp])
        assert listed[tp] == 11, "Tansu lists the last batch's base offset + 1 (17 records are there)"
        assert await true_end_offsets(probe, listed) == {tp: 17}
        assert await true_end_offsets(probe, {TopicPartition(empty_topic, 0): 0}) == {
            TopicPartition(empty_topic, 0): 0
        }, "an empty partition needs no fetch"
    finally:
        await probe.stop()
