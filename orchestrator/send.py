"""`nudgeflow send`: publish one event with a plain Kafka producer."""

from __future__ import annotations

from aiokafka import AIOKafkaProducer

from events.segment import IdentifyEvent, TrackEvent
from orchestrator.broker.clients import aiokafka_options
from orchestrator.producer import publish
from orchestrator.settings import Settings


async def send_event(settings: Settings, event: TrackEvent | IdentifyEvent) -> None:
    assert settings.kafka_bootstrap_servers
    producer = AIOKafkaProducer(**aiokafka_options(settings, settings.kafka_bootstrap_servers))
    await producer.start()
    try:
        await publish(producer, settings.events_topic, event)
    finally:
        await producer.stop()
