"""Test helpers that talk to the real broker with plain aiokafka clients."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from nudgeflow.orchestrator.settings import TANSU_FETCH_WAIT_MS


async def produce(bootstrap: str, topic: str, records: list[tuple[bytes | None, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for key, value in records:
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


async def read_topic(
    bootstrap: str,
    topic: str,
    *,
    until: Callable[[list[Any]], bool] | None = None,
    timeout: float = 20.0,
    decode: bool = True,
) -> list[Any]:
    """Every record on `topic` from the beginning; with `until`, waits until it holds (or timeout)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=TANSU_FETCH_WAIT_MS,  # Tansu answers a fetch only when the wait is over
    )
    await consumer.start()
    try:
        partitions = None
        deadline = time.monotonic() + timeout
        while partitions is None and time.monotonic() < deadline:
            numbers = consumer.partitions_for_topic(topic)
            if numbers:
                partitions = [TopicPartition(topic, n) for n in numbers]
            else:
                await consumer._client.force_metadata_update()
                await asyncio.sleep(0.1)
        if partitions is None:
            return []
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        values: list[Any] = []
        while time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=300)
            for records in batches.values():
                values.extend(json.loads(r.value) if decode else r for r in records)
            if until is not None and until(values):
                return values
            if until is None and not batches:
                return values
        return values
    finally:
        await consumer.stop()


async def eventually(check: Callable[[], Any], *, timeout: float = 20.0, interval: float = 0.1) -> Any:
    """Polls `check` until it returns something truthy; fails with the last value."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last value: {last!r})")
