"""The event agent's handler wired the way `build_app` wires it, on in-memory topics and tables."""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

from nudgeflow.channels.preferences.store import PreferencesStore
from nudgeflow.orchestrator.clock import ManualClock
from nudgeflow.orchestrator.handler import InputHandler, TimerPublisher
from nudgeflow.orchestrator.pipeline import Event, FixedEngine, PipelineStep
from nudgeflow.orchestrator.timers.firing import TimerFiring
from nudgeflow.orchestrator.timers.index import TimerIndex
from nudgeflow.rules import Engine
from tests.support.memory import MemoryBroker, MemoryMessage
from tests.support.playbooks import onboarding_playbook
from tests.support.rules import T0, ruleset_from


class Worker:
    """The handler wired the way `build_app` wires it, on in-memory topics and a dict table."""

    def __init__(self, tmp_path: Path, playbook: str | None = None) -> None:
        self.broker = MemoryBroker()
        self.outputs = self.broker.outputs()
        self.clock = ManualClock(T0)
        self.table: dict[str, Any] = {}
        self.preferences = PreferencesStore()
        self.timers = TimerIndex({})
        self.firing = TimerFiring(TimerPublisher(self.outputs.timers), self.timers, clock=self.clock)
        self.accounts: dict[str, Any] = {}
        ruleset = ruleset_from(tmp_path, playbook or onboarding_playbook())
        step = PipelineStep(FixedEngine(Engine(ruleset)), dedupe_window=100, preferences=self.preferences)
        self.handler = InputHandler(
            step,
            table=self.table,
            topics=self.outputs,
            timers_topic="timers",
            timers=self.timers,
            clock=self.clock,
            preferences=self.preferences,
            relay_topic="relay",
            accounts=self.accounts,
        )
        self.offset = 0

    async def consume(self, value: bytes, key: bytes | None, topic: str = "events") -> None:
        partition = zlib.crc32(key) % 4 if key else 0
        self.offset += 1
        await self.handler.handle(MemoryMessage(topic, partition, self.offset, key, value))

    async def send(self, event: Event) -> None:
        await self.consume(event.model_dump_json(by_alias=True).encode(), event.userId.encode())

    async def pass_on(self, topic: str) -> int:
        """Consume what was published to `topic` since the last call, as the worker's agent would."""
        new = self.broker.topic(topic).take()
        for message in new:
            await self.consume(message.value or b"", message.key, topic)
        return len(new)

    def published(self, topic: str) -> list[dict[str, Any]]:
        return [json.loads(value or b"") for value in self.broker.values(topic)]


def batch_of(worker: Worker, *events: Event) -> list[MemoryMessage]:
    messages = []
    for event in events:
        key = event.userId.encode()
        worker.offset += 1
        raw = event.model_dump_json(by_alias=True).encode()
        messages.append(MemoryMessage("events", zlib.crc32(key) % 4, worker.offset, key, raw))
    return messages
