"""The event agent's work per record, apart from Faust: decode, dead-letter or re-key, run the
pipeline step, publish its outputs and wait for the broker's acks, and only then store the user's
new record and its timers' index entries. A crash at any point re-processes the record and produces the same
ids, which every consumer de-duplicates.

Collaborators come in as arguments (topics, the table, the clock), so unit tests drive it with
in-memory ones and the property test checks it against the simulator.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, MutableMapping
from dataclasses import dataclass
from typing import Any, Protocol

from nudgeflow.channels.preferences.store import PreferencesStore
from nudgeflow.orchestrator import metrics
from nudgeflow.orchestrator.clock import Clock
from nudgeflow.orchestrator.feeds.preferences import preferences_key
from nudgeflow.orchestrator.ingest.decode import DEFAULT_MAX_BYTES, DEFAULT_MAX_DEPTH, Rejected, decode_event
from nudgeflow.orchestrator.pipeline import PipelineStep, StepResult, decode_timer
from nudgeflow.orchestrator.state import ParsedRecords
from nudgeflow.orchestrator.timers.firing import command_for
from nudgeflow.orchestrator.timers.index import TimerIndex
from nudgeflow.orchestrator.timers.schedule import ScheduledTimer
from nudgeflow.rules.contracts.dead_letters import DeadLetter
from nudgeflow.rules.contracts.prompts import prompt_key
from nudgeflow.rules.contracts.users import UserRecord

log = logging.getLogger(__name__)


class Sink(Protocol):
    """A topic to publish to (a Faust topic, or an in-memory one): `await (await send(...))` waits
    for the broker's ack."""

    async def send(
        self, *, key: bytes | None = None, value: bytes | None = None, partition: int | None = None
    ) -> Awaitable[Any]: ...


class Message(Protocol):
    """One consumed record (Faust's `Message`, or an in-memory one)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...


@dataclass(frozen=True, slots=True)
class OutputTopics:
    """Everything the event agent writes to."""

    events: Sink  # re-keyed events go back here, to the user's own partition
    timers: Sink
    dead_letters: Sink
    prompts: Sink
    deliveries: Sink
    outcomes: Sink
    preferences: Sink


@dataclass
class ProcessingStats:
    """Counts since start, for the demo summary, benchmarks and tests (Prometheus has the same as metrics)."""

    processed: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    rekeyed: int = 0
    timers_fired: int = 0


class TimerPublisher:
    """`TimerFiring`'s publish: a command on the timers topic, in the partition that owns the user."""

    def __init__(self, timers: Sink) -> None:
        self.timers = timers

    async def __call__(self, timer: ScheduledTimer) -> None:
        await (await self.timers.send(key=timer.user_id.encode(), value=command_for(timer), partition=timer.partition))


class DeadLetters:
    """Parks a record that cannot be processed, with its original bytes and the reason."""

    def __init__(
        self, topic: Sink, clock: Clock, stats: ProcessingStats, *, max_bytes: int = DEFAULT_MAX_BYTES
    ) -> None:
        self.topic = topic
        self.clock = clock
        self.stats = stats
        self.max_bytes = max_bytes  # larger values are parked as an excerpt + size + sha256

    async def park(self, message: Message, rejected: Rejected) -> None:
        letter = DeadLetter.of(
            reason=rejected.reason,
            error_type=rejected.error_type,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            key=message.key,
            value=message.value,
            rejected_at=self.clock.now(),
            max_bytes=self.max_bytes,
        )
        await (await self.topic.send(key=letter.kafka_key(), value=letter.model_dump_json().encode()))
        metrics.DEAD_LETTERS.labels(rejected.error_type).inc()
        self.stats.dead_lettered += 1
        log.warning("dead-lettered %s[%s]@%s: %s", message.topic, message.partition, message.offset, rejected.reason)


class InputHandler:
    """Handles one record of the events or timers topic, in order with the user's other records."""

    def __init__(
        self,
        step: PipelineStep,
        *,
        table: MutableMapping[str, Any],
        topics: OutputTopics,
        timers_topic: str,
        timers: TimerIndex,
        clock: Clock,
        preferences: PreferencesStore | None = None,
        stats: ProcessingStats | None = None,
        max_event_bytes: int = DEFAULT_MAX_BYTES,
        max_event_depth: int = DEFAULT_MAX_DEPTH,
    ) -> None:
        self.step = step
        self.max_event_bytes = max_event_bytes
        self.max_event_depth = max_event_depth
        self.table = table  # user id → UserRecord as JSON (the Faust table, changelog-backed)
        self.topics = topics
        self.timers_topic = timers_topic
        self.timers = timers  # entries of the `timers` table, kept equal to each stored record's timers
        self.clock = clock
        self.preferences = preferences
        self.stats = stats or ProcessingStats()
        self.dead_letters = DeadLetters(topics.dead_letters, clock, self.stats, max_bytes=max_event_bytes)
        self.parsed = ParsedRecords()

    async def handle(self, message: Message) -> None:
        if message.topic == self.timers_topic:
            await self._timer(message)
        else:
            await self._event(message)

    async def _event(self, message: Message) -> None:
        decoded = decode_event(message.value, max_bytes=self.max_event_bytes, max_depth=self.max_event_depth)
        if isinstance(decoded, Rejected):
            await self.dead_letters.park(message, decoded)
            return
        user_id = decoded.userId
        if message.key != user_id.encode():
            # Keyless or mis-keyed: send it to the user's own partition, where their state lives.
            await (await self.topics.events.send(key=user_id.encode(), value=message.value))
            metrics.EVENTS.labels("rekeyed").inc()
            self.stats.rekeyed += 1
            return
        before = self._load(user_id)
        try:
            result = self.step.on_event(before, decoded, self.clock.now())
        except Exception as exc:  # a bug must not stall the partition: park the record instead
            log.exception("processing failed for %s", decoded.messageId)
            await self.dead_letters.park(
                message, Rejected(reason=f"processing error: {exc!r}", error_type="processing_error")
            )
            return
        await self._commit(user_id, message.partition, result, before)
        if result.status == "duplicate":
            self.timers.ensure(user_id, message.partition, before.due_times())
            metrics.EVENTS.labels("duplicate").inc()
            self.stats.duplicates += 1
            return
        metrics.EVENTS.labels(decoded.type).inc()
        self.stats.processed += 1

    async def _timer(self, message: Message) -> None:
        try:
            command = decode_timer(message.value)
            if isinstance(command, Rejected):
                raise ValueError(command.reason)
            before = self._load(command.user_id)
            result = self.step.on_timer(before, command, self.clock.now())
        except Exception as exc:  # as for events: park it, keep the partition moving
            log.exception("timer command failed at %s[%s]@%s", message.topic, message.partition, message.offset)
            await self.dead_letters.park(
                message, Rejected(reason=f"timer error: {exc!r}", error_type="processing_error")
            )
            return
        if result.status == "stale":
            self.timers.discard(command.user_id, command.timer_id, command.due_at)
            metrics.TIMERS.labels("stale").inc()
            return
        await self._commit(command.user_id, message.partition, result, before)
        metrics.TIMERS.labels("fired").inc()
        self.stats.timers_fired += 1

    def _load(self, user_id: str) -> UserRecord:
        return self.parsed.load(user_id, self.table.get(user_id))

    async def _commit(self, user_id: str, partition: int, result: StepResult, before: UserRecord) -> None:
        """Publish the outputs and wait for the broker's acks; only then store the new state."""
        if result.preferences is not None and self.preferences is not None:
            # Durable before the user's later events run, exactly as a change made through the API.
            changed = result.preferences
            await (
                await self.topics.preferences.send(
                    key=preferences_key(user_id), value=changed.model_dump_json().encode()
                )
            )
            self.preferences.apply(changed)
        topics = self.topics
        sends = [
            await topics.prompts.send(key=prompt_key(p.user_id, p.delivery_id), value=p.model_dump_json().encode())
            for p in result.prompts
        ]
        sends += [
            await topics.deliveries.send(key=d.user_id.encode(), value=d.model_dump_json().encode())
            for d in result.deliveries
        ]
        sends += [
            await topics.outcomes.send(key=o.user_id.encode(), value=o.model_dump_json().encode())
            for o in result.outcomes
        ]
        if sends:
            await asyncio.gather(*sends)
        if not result.changed:
            return
        record = result.record.model_copy(update={"partition": partition})
        stored = record.model_dump(mode="json")
        self.table[user_id] = stored
        self.parsed.remember(user_id, stored, record)
        self.timers.sync(user_id, partition, before.due_times(), record.due_times())
        _count_outcomes(result)


def _count_outcomes(result: StepResult) -> None:
    for outcome in result.outcomes:
        if outcome.kind == "milestone_completed":
            metrics.MILESTONES.labels(outcome.playbook_id or "").inc()
        elif outcome.channel:
            metrics.DELIVERIES.labels(outcome.channel, outcome.kind.value).inc()
