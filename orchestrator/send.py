"""`nudgeflow send`: publish one event with a plain Kafka producer."""

from __future__ import annotations

from aiokafka import AIOKafkaProducer

from nudgeflow.orchestrator.broker.clients import aiokafka_options
from nudgeflow.orchestrator.producer import publish
from nudgeflow.orchestrator.settings import Settings
from nudgeflow.rules.contracts.events import IdentifyEvent, TrackEvent


async def send_event(settings: Settings, event: TrackEvent | IdentifyEvent) -> None:
    assert settings.kafka_bootstrap_servers
    producer = AIOKafkaProducer(**aiokafka_options(settings, settings.kafka_bootstrap_servers))
    await producer.start()
    try:
        await publish(producer, settings.events_topic, event)
    finally:
        await producer.stop()
