"""In-memory stand-ins for the topics the event agent writes to, for tests without a broker.

All topics of one `MemoryBroker` append to one log, so a test sees the order of every publish
across topics. A topic can hold back its acks (`hold_acks`) to show what waits for them, or
refuse sends (`fail_acks`) as a broker in an outage does.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

from nudgeflow.orchestrator.handler import OutputTopics


@dataclass(frozen=True, slots=True)
class MemoryMessage:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


@dataclass
class MemoryBroker:
    partitions: int = 4
    log: list[MemoryMessage] = field(default_factory=list)
    topics: dict[str, MemoryTopic] = field(default_factory=dict)

    def topic(self, name: str) -> MemoryTopic:
        return self.topics.setdefault(name, MemoryTopic(self, name))

    def outputs(self, prefix: str = "") -> OutputTopics:
        names = ("events", "timers", "dead_letters", "prompts", "deliveries", "outcomes", "preferences", "relay")
        return OutputTopics(**{name: self.topic(prefix + name) for name in names})

    def values(self, name: str) -> list[bytes | None]:
        return [m.value for m in self.log if m.topic == name]


@dataclass(frozen=True, slots=True)
class HeldAcks:
    reached: asyncio.Event
    release: asyncio.Event


class MemoryTopic:
    """`send` appends to the broker's log and returns the ack, like `faust.Topic.send`."""

    def __init__(self, broker: MemoryBroker, name: str) -> None:
        self.broker = broker
        self.name = name
        self.messages: list[MemoryMessage] = []
        self.read = 0  # what a consumer of this topic has taken so far
        self._held: HeldAcks | None = None
        self._failures: list[BaseException] = []

    def hold_acks(self) -> HeldAcks:
        """From now on, acks wait until `release` is set (a slow broker); `reached` is set by the first
        send that waits."""
        self._held = HeldAcks(reached=asyncio.Event(), release=asyncio.Event())
        return self._held

    def fail_acks(self, *errors: BaseException) -> None:
        """The next sends are refused by the broker, one error each, in order (an outage)."""
        self._failures.extend(errors)

    async def send(
        self, *, key: bytes | None = None, value: bytes | None = None, partition: int | None = None
    ) -> Awaitable[Any]:
        if partition is None:
            partition = zlib.crc32(key) % self.broker.partitions if key is not None else 0
        message = MemoryMessage(self.name, partition, len(self.messages), key, value)
        self.messages.append(message)
        self.broker.log.append(message)
        if self._failures:
            refused: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            refused.set_exception(self._failures.pop(0))
            return refused
        held = self._held
        if held is None:
            done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            done.set_result(message.offset)
            return done
        held.reached.set()
        return asyncio.ensure_future(_after(held.release, message.offset))

    def take(self) -> list[MemoryMessage]:
        """Messages published since the last take, in order."""
        new, self.read = self.messages[self.read :], len(self.messages)
        return new


async def _after(event: asyncio.Event, offset: int) -> int:
    await event.wait()
    return offset
