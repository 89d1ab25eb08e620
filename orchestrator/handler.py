"""The event agent's work per batch of records, apart from Faust: decode, dead-letter or re-key,
run the pipeline step, publish the outputs, wait once for the broker's acks of the whole batch,
and only then store each changed user's record and its timers' index entries. Faust acks the
batch's records after that, so a crash at any point re-processes the batch and produces the same
ids, which every consumer de-duplicates.

Collaborators come in as arguments (topics, the table, the clock), so unit tests drive it with
in-memory ones and the property test checks it against the simulator.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from nudgeflow.channels.preferences.store import PreferencesStore
from nudgeflow.orchestrator import metrics
from nudgeflow.orchestrator.clock import Clock
from nudgeflow.orchestrator.feeds.preferences import preferences_key
from nudgeflow.orchestrator.ingest.decode import DEFAULT_MAX_BYTES, DEFAULT_MAX_DEPTH, Rejected, decode_event
from nudgeflow.orchestrator.pipeline import PipelineStep, StepResult, decode_timer
from nudgeflow.orchestrator.timers.firing import command_for
from nudgeflow.orchestrator.timers.index import TimerIndex
from nudgeflow.orchestrator.timers.schedule import ScheduledTimer
from nudgeflow.rules.contracts.accounts import AccountNotice, AccountRecord, AccountSignal
from nudgeflow.rules.contracts.dead_letters import DeadLetter
from nudgeflow.rules.contracts.prompts import prompt_key
from nudgeflow.rules.contracts.relay import relay_record_adapter
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
    relay: Sink  # account signals (keyed by account), notices and identity merges (keyed by user)


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
    """Parks a record that cannot be processed, with its original bytes and the reason.

    A batch the broker refused is handled again whole (event_agent.py); a record whose dead letter
    the broker already acknowledged in an earlier attempt of the same batch is not parked twice.
    `batch_done` forgets those records once the batch went through."""

    def __init__(
        self, topic: Sink, clock: Clock, stats: ProcessingStats, *, max_bytes: int = DEFAULT_MAX_BYTES
    ) -> None:
        self.topic = topic
        self.clock = clock
        self.stats = stats
        self.max_bytes = max_bytes  # larger values are parked as an excerpt + size + sha256
        self._acknowledged: set[tuple[str, int, int]] = set()

    def batch_done(self) -> None:
        self._acknowledged.clear()

    async def park(self, message: Message, rejected: Rejected) -> Awaitable[Any]:
        """Publishes the dead letter; returns its ack, for the batch to wait on."""
        where = (message.topic, message.partition, message.offset)
        if where in self._acknowledged:
            return asyncio.sleep(0)  # parked by an earlier attempt of this batch
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
        ack = await self.topic.send(key=letter.kafka_key(), value=letter.model_dump_json().encode())
        ack = asyncio.ensure_future(ack)
        ack.add_done_callback(
            lambda sent: self._acknowledged.add(where) if not sent.cancelled() and sent.exception() is None else None
        )
        metrics.DEAD_LETTERS.labels(rejected.error_type).inc()
        self.stats.dead_lettered += 1
        log.warning("dead-lettered %s[%s]@%s: %s", message.topic, message.partition, message.offset, rejected.reason)
        return ack


InContext = Callable[[Any], AbstractContextManager[Any]]
"""Runs table reads and writes as part of one consumed record (Faust: its current event, which picks
the changelog partition); `origin` is what the caller passed along with the record."""


def no_context(origin: Any) -> AbstractContextManager[Any]:
    return nullcontext()


@dataclass
class PendingUser:
    """One user's state within a batch: as stored before it, and after its records so far."""

    before: UserRecord
    record: UserRecord
    partition: int
    origin: Any  # of the user's latest record in the batch: table writes are made as part of it
    changed: bool = False
    replayed: bool = False  # one of its events was a duplicate: maybe a replay after a crash


@dataclass
class PendingAccount:
    """One account's record within a batch, stored after the batch's acks when `changed`."""

    record: AccountRecord
    origin: Any
    changed: bool = False


@dataclass
class Batch:
    """What a batch publishes (acks to wait for) and will store once they are all in."""

    acks: list[Awaitable[Any]] = field(default_factory=list)
    users: dict[str, PendingUser] = field(default_factory=dict)
    accounts: dict[str, PendingAccount] = field(default_factory=dict)
    discarded: list[tuple[str, str, datetime, Any]] = field(default_factory=list)  # stale timer entries


class InputHandler:
    """Handles batches of records of the events, timers and relay topics, in order with each user's
    (and account's) other records: a later record in a batch sees the state its earlier ones left."""

    def __init__(
        self,
        step: PipelineStep,
        *,
        table: MutableMapping[str, Any],
        topics: OutputTopics,
        timers_topic: str,
        timers: TimerIndex,
        clock: Clock,
        relay_topic: str = "",
        accounts: MutableMapping[str, Any] | None = None,
        preferences: PreferencesStore | None = None,
        stats: ProcessingStats | None = None,
        max_event_bytes: int = DEFAULT_MAX_BYTES,
        max_event_depth: int = DEFAULT_MAX_DEPTH,
        in_context: InContext = no_context,
    ) -> None:
        self.step = step
        self.max_event_bytes = max_event_bytes
        self.max_event_depth = max_event_depth
        self.table = table  # user id → UserRecord as JSON (the Faust table, changelog-backed)
        self.topics = topics
        self.timers_topic = timers_topic
        self.timers = timers  # entries of the `timers` table, kept equal to each stored record's timers
        self.relay_topic = relay_topic
        self.accounts: MutableMapping[str, Any] = accounts if accounts is not None else {}  # account id → record
        self.clock = clock
        self.preferences = preferences
        self.stats = stats or ProcessingStats()
        self.dead_letters = DeadLetters(topics.dead_letters, clock, self.stats, max_bytes=max_event_bytes)
        self.in_context = in_context
        self.batches = 0
        self.records = 0  # handled and stored, over all batches

    async def handle(self, message: Message) -> None:
        """One record as a batch of one."""
        await self.handle_batch([message])

    async def handle_batch(self, messages: Sequence[Message], origins: Sequence[Any] | None = None) -> None:
        """Process every record, wait once for all the outputs' acks, then store the new state.
        `origins[i]` goes with `messages[i]` to `in_context` (default: the message itself)."""
        batch = Batch()
        for n, message in enumerate(messages):
            origin = origins[n] if origins is not None else message
            with self.in_context(origin):
                if message.topic == self.timers_topic:
                    await self._timer(message, batch, origin)
                elif message.topic == self.relay_topic:
                    await self._relay(message, batch, origin)
                else:
                    await self._event(message, batch, origin)
        if batch.acks:
            await asyncio.gather(*batch.acks)
        self.dead_letters.batch_done()
        self._store(batch)
        self.batches += 1
        self.records += len(messages)

    async def _event(self, message: Message, batch: Batch, origin: Any) -> None:
        decoded = decode_event(message.value, max_bytes=self.max_event_bytes, max_depth=self.max_event_depth)
        if isinstance(decoded, Rejected):
            batch.acks.append(await self.dead_letters.park(message, decoded))
            return
        user_id = decoded.owner  # the user's id; an alias's previous id
        if message.key != user_id.encode():
            # Keyless or mis-keyed: send it to the user's own partition, where their state lives.
            batch.acks.append(await self.topics.events.send(key=user_id.encode(), value=message.value))
            metrics.EVENTS.labels("rekeyed").inc()
            self.stats.rekeyed += 1
            return
        pending = self._pending(batch, user_id, message.partition, origin)
        try:
            result = self.step.on_event(pending.record, decoded, self.clock.now())
        except Exception as exc:  # a bug must not stall the partition: park the record instead
            log.exception("processing failed for %s", decoded.messageId)
            rejected = Rejected(reason=f"processing error: {exc!r}", error_type="processing_error")
            batch.acks.append(await self.dead_letters.park(message, rejected))
            return
        await self._publish(pending, result, batch)
        if result.status == "forwarded":
            metrics.EVENTS.labels("forwarded").inc()  # an alias made this id another's
            return
        if result.status == "duplicate":
            pending.replayed = True
            metrics.EVENTS.labels("duplicate").inc()
            self.stats.duplicates += 1
            return
        metrics.EVENTS.labels(decoded.type).inc()
        self.stats.processed += 1

    async def _timer(self, message: Message, batch: Batch, origin: Any) -> None:
        try:
            command = decode_timer(message.value)
            if isinstance(command, Rejected):
                raise ValueError(command.reason)
            pending = self._pending(batch, command.user_id, message.partition, origin)
            result = self.step.on_timer(pending.record, command, self.clock.now())
        except Exception as exc:  # as for events: park it, keep the partition moving
            log.exception("timer command failed at %s[%s]@%s", message.topic, message.partition, message.offset)
            rejected = Rejected(reason=f"timer error: {exc!r}", error_type="processing_error")
            batch.acks.append(await self.dead_letters.park(message, rejected))
            return
        if result.status == "stale":
            batch.discarded.append((command.user_id, command.timer_id, command.due_at, origin))
            metrics.TIMERS.labels("stale").inc()
            return
        await self._publish(pending, result, batch)
        metrics.TIMERS.labels("fired").inc()
        self.stats.timers_fired += 1

    async def _relay(self, message: Message, batch: Batch, origin: Any) -> None:
        """A member's signal (to the account's record), an account's notice (to the member's), or an
        alias's identity merge (to the new id's)."""
        try:
            item = relay_record_adapter.validate_json(message.value or b"")
            if not isinstance(item, AccountSignal):
                user_id = item.user_id if isinstance(item, AccountNotice) else item.into_id
                pending = self._pending(batch, user_id, message.partition, origin)
                await self._publish(pending, self.step(pending.record, item, self.clock.now()), batch)
                return
            account = batch.accounts.get(item.account_id)
            if account is None:
                stored = self.accounts.get(item.account_id)
                record = AccountRecord.model_validate(stored) if stored else AccountRecord.new(item.account_id)
                account = batch.accounts[item.account_id] = PendingAccount(record, origin)
            stepped = self.step.on_account_signal(account.record, item)
        except Exception as exc:  # as for events: park it, keep the partition moving
            log.exception("relay record failed at %s[%s]@%s", message.topic, message.partition, message.offset)
            rejected = Rejected(reason=f"relay record error: {exc!r}", error_type="processing_error")
            batch.acks.append(await self.dead_letters.park(message, rejected))
            return
        for notice in stepped.notices:
            value = notice.model_dump_json().encode()
            batch.acks.append(await self.topics.relay.send(key=notice.user_id.encode(), value=value))
        if stepped.changed:
            account.record, account.origin, account.changed = stepped.record, origin, True
        metrics.ACCOUNT_NOTICES.inc(len(stepped.notices))

    def _pending(self, batch: Batch, user_id: str, partition: int, origin: Any) -> PendingUser:
        pending = batch.users.get(user_id)
        if pending is None:
            stored = _user_record(user_id, self.table.get(user_id))
            pending = batch.users[user_id] = PendingUser(stored, stored, partition, origin)
        pending.origin, pending.partition = origin, partition
        return pending

    async def _publish(self, pending: PendingUser, result: StepResult, batch: Batch) -> None:
        """Send the step's outputs (their acks join the batch) and keep its new record pending."""
        if result.preferences is not None and self.preferences is not None:
            # Applied now, for the user's later records; durable with the batch, before any is acked.
            changed = result.preferences
            batch.acks.append(
                await self.topics.preferences.send(
                    key=preferences_key(changed.user_id), value=changed.model_dump_json().encode()
                )
            )
            self.preferences.apply(changed)
        topics = self.topics
        for p in result.prompts:
            batch.acks.append(
                await topics.prompts.send(
                    key=prompt_key(p.user_id, p.delivery_id),
                    value=p.model_dump_json().encode(),
                    partition=pending.partition,  # the user's: the inbox lives with the user (inbox/agent.py)
                )
            )
        for d in result.deliveries:
            batch.acks.append(await topics.deliveries.send(key=d.user_id.encode(), value=d.model_dump_json().encode()))
        for o in result.outcomes:
            batch.acks.append(await topics.outcomes.send(key=o.user_id.encode(), value=o.model_dump_json().encode()))
        for signal in result.signals:
            value = signal.model_dump_json().encode()
            batch.acks.append(await topics.relay.send(key=signal.account_id.encode(), value=value))
        for merge in result.merges:
            value = merge.model_dump_json().encode()
            batch.acks.append(await topics.relay.send(key=merge.into_id.encode(), value=value))
        for event in result.forwards:
            value = event.model_dump_json(by_alias=True).encode()
            batch.acks.append(await topics.events.send(key=event.userId.encode(), value=value))
        if result.changed:
            pending.record = result.record.model_copy(update={"partition": pending.partition})
            pending.changed = True
        _count_outcomes(result)

    def _store(self, batch: Batch) -> None:
        """After the acks: stale timers' entries go, then each changed user's record and timers are
        stored (an unchanged one that saw a duplicate gets any timer entry a crash may have lost, see
        TimerIndex.ensure)."""
        for account_id, account in batch.accounts.items():
            if account.changed:
                with self.in_context(account.origin):
                    self.accounts[account_id] = account.record.model_dump(mode="json")
        for user_id, timer_id, due_at, origin in batch.discarded:
            with self.in_context(origin):
                self.timers.discard(user_id, timer_id, due_at)
        for user_id, pending in batch.users.items():
            with self.in_context(pending.origin):
                if not pending.changed:
                    if pending.replayed:
                        self.timers.ensure(user_id, pending.partition, pending.record.due_times())
                    continue
                self.table[user_id] = pending.record.model_dump(mode="json")
                self.timers.sync(user_id, pending.partition, pending.before.due_times(), pending.record.due_times())


def _user_record(user_id: str, stored: dict[str, Any] | None) -> UserRecord:
    """Parsed on every read, not cached: the RocksDB store returns a new dict for each read, so the
    identity-keyed cache this replaced never hit there, and it held up to 20,000 parsed records in
    RAM, growing with the users seen (a likely part of the soak's RSS growth, docs/benchmarks.md)."""
    return UserRecord.model_validate(stored) if stored else UserRecord.new(user_id)


def _count_outcomes(result: StepResult) -> None:
    for outcome in result.outcomes:
        if outcome.kind == "milestone_completed":
            metrics.MILESTONES.labels(outcome.playbook_id or "").inc()
        elif outcome.channel:
            metrics.DELIVERIES.labels(outcome.channel, outcome.kind.value).inc()
