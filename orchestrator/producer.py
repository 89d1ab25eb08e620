"""Publishing product events the way a platform team would: JSON, keyed by userId."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer

from nudgeflow.rules.contracts.events import IdentifyEvent, TrackEvent


def track(
    user_id: str,
    event: str,
    properties: dict[str, Any] | None = None,
    *,
    timestamp: datetime | None = None,
    timezone: str | None = None,
    message_id: str | None = None,
) -> TrackEvent:
    return TrackEvent(
        type="track",
        messageId=message_id or str(uuid.uuid4()),
        userId=user_id,
        event=event,
        properties=properties or {},
        timestamp=timestamp or datetime.now(UTC),
        context={"timezone": timezone} if timezone else {},
    )


def identify(
    user_id: str,
    traits: dict[str, Any],
    *,
    timestamp: datetime | None = None,
    timezone: str | None = None,
    message_id: str | None = None,
) -> IdentifyEvent:
    return IdentifyEvent(
        type="identify",
        messageId=message_id or str(uuid.uuid4()),
        userId=user_id,
        traits=traits,
        timestamp=timestamp or datetime.now(UTC),
        context={"timezone": timezone} if timezone else {},
    )


def encode(event: TrackEvent | IdentifyEvent) -> bytes:
    return event.model_dump_json(exclude_none=True).encode()


async def publish(producer: AIOKafkaProducer, topic: str, event: TrackEvent | IdentifyEvent) -> None:
    await producer.send_and_wait(topic, encode(event), key=event.userId.encode())
