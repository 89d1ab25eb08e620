"""The Faust application: topics, the per-user table and the event-processing agent.

Flow per event: decode → (dead-letter | re-key | dedupe) → rules engine →
publish prompts, deliveries and outcomes and wait for the broker's ack → only
then store the user's new state. A crash at any point re-processes the record
and produces the same ids, which every consumer de-duplicates. Due timers
(stall nudges, deferred sends) come back through the timers topic into the
same agent, so they are applied in order with the user's events.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import faust
from pydantic import ValidationError

from nudgeflow.channels.inapp.models import prompt_key
from nudgeflow.channels.preferences.store import Allows, PreferencesStore, allow_all
from nudgeflow.orchestrator import metrics
from nudgeflow.orchestrator.broker import faust_patches
from nudgeflow.orchestrator.broker.clients import faust_credentials
from nudgeflow.orchestrator.broker.partitioning import partitioner
from nudgeflow.orchestrator.feeds.preferences import preferences_key
from nudgeflow.orchestrator.ingest.dead_letter import DeadLetter
from nudgeflow.orchestrator.ingest.decode import Rejected, decode_event
from nudgeflow.orchestrator.outbox.agent import register_outbox
from nudgeflow.orchestrator.outbox.sender import OutboxSender
from nudgeflow.orchestrator.processing import Processed, process_event, process_timer
from nudgeflow.orchestrator.rules_holder import RulesHolder
from nudgeflow.orchestrator.settings import Settings
from nudgeflow.orchestrator.state import ParsedRecords
from nudgeflow.orchestrator.timers.firing import TimerCommand, TimerFiring, command_for
from nudgeflow.orchestrator.timers.schedule import ScheduledTimer
from nudgeflow.rules.contracts.events import IdentifyEvent

log = logging.getLogger(__name__)


def faust_options(settings: Settings) -> dict[str, Any]:
    """Faust settings per broker profile.

    Tansu holds a JoinGroup reply for up to half the session timeout, so Faust's
    60 s default means ~30 s to a ready worker; 3 s gives ~3.5 s. Tansu's
    ListOffsets is wrong for multi-record batches, which breaks changelog recovery,
    so batches hold one record there. Neither is applied to Apache Kafka.
    """
    options: dict[str, Any] = {}
    if settings.broker_profile == "tansu":
        options.update(
            broker_session_timeout=3.0,
            broker_heartbeat_interval=1.0,
            broker_request_timeout=10.0,
            producer_max_batch_size=1,
        )
    return options


@dataclass
class ProcessingStats:
    """Counts since start, for the demo summary and tests (Prometheus has the same as metrics)."""

    processed: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    rekeyed: int = 0
    timers_fired: int = 0


@dataclass
class NudgeflowApp:
    """The Faust app plus the handles the worker and tests need."""

    app: faust.App
    settings: Settings
    rules: RulesHolder
    stats: ProcessingStats
    firing: TimerFiring
    outbox: OutboxSender | None = None

    @property
    def ready(self) -> bool:
        recovery = self.app.tables.recovery
        return recovery.completed.is_set() and not self.app.rebalancing


def build_app(
    settings: Settings, *, bootstrap_servers: str, rules: RulesHolder, preferences: PreferencesStore | None = None
) -> NudgeflowApp:
    """`preferences` (followed from the preferences topic) are checked at send time on every channel."""
    allows: Allows = preferences.allows if preferences is not None else allow_all
    faust_patches.apply()  # never commit past an unprocessed record (docs/architecture.md)
    data_dir = settings.table_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        settings.app_id,
        broker=f"kafka://{bootstrap_servers}",
        store="memory://",
        web_enabled=False,
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.replication_factor,
        table_cleanup_interval=3600.0,
        datadir=str(data_dir),
        tabledir=str(data_dir),
        consumer_auto_offset_reset="earliest",
        broker_credentials=faust_credentials(settings),
        producer_partitioner=partitioner,  # the one partitioner of every topic Nudgeflow writes
        **faust_options(settings),
    )
    raw = {"key_serializer": "raw", "value_serializer": "raw"}
    events = app.topic(settings.user_events_topic, partitions=settings.topic_partitions, **raw)
    timers = app.topic(settings.timers_topic, partitions=settings.topic_partitions, **raw)
    inputs = app.topic(settings.user_events_topic, settings.timers_topic, partitions=settings.topic_partitions, **raw)
    dead_letters = app.topic(settings.dead_letter_topic, **raw)
    outcomes = app.topic(settings.outcomes_topic, **raw)
    prompts = app.topic(settings.prompts_topic, **raw)
    deliveries = app.topic(settings.deliveries_topic, partitions=settings.topic_partitions, **raw)
    preference_records = app.topic(settings.preferences_topic, **raw)
    users = app.Table("users", partitions=settings.topic_partitions)  # user id → UserRecord as JSON
    stats = ProcessingStats()
    parsed = ParsedRecords()

    async def fire(timer: ScheduledTimer) -> None:
        await (await timers.send(key=timer.user_id.encode(), value=command_for(timer), partition=timer.partition))

    firing = TimerFiring(fire)

    async def dead_letter(message: Any, rejected: Rejected) -> None:
        letter = DeadLetter.of(
            reason=rejected.reason,
            error_type=rejected.error_type,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            key=message.key,
            value=message.value,
            rejected_at=datetime.now(UTC),
        )
        await (await dead_letters.send(key=message.key, value=letter.model_dump_json().encode()))
        metrics.DEAD_LETTERS.labels(rejected.error_type).inc()
        stats.dead_lettered += 1
        log.warning("dead-lettered %s[%s]@%s: %s", message.topic, message.partition, message.offset, rejected.reason)

    async def commit(user_id: str, partition: int, processed: Processed) -> None:
        """Publish the outputs and wait for the broker's acks; only then store the new state."""
        sends = [
            await prompts.send(key=prompt_key(p.user_id, p.delivery_id), value=p.model_dump_json().encode())
            for p in processed.prompts
        ]
        sends += [
            await deliveries.send(key=d.user_id.encode(), value=d.model_dump_json().encode())
            for d in processed.deliveries
        ]
        sends += [
            await outcomes.send(key=o.user_id.encode(), value=o.model_dump_json().encode()) for o in processed.outcomes
        ]
        if sends:
            await asyncio.gather(*sends)
        record = processed.record.model_copy(update={"partition": partition})
        stored = record.model_dump(mode="json")
        users[user_id] = stored
        parsed.remember(user_id, stored, record)
        firing.track(user_id, record)
        _count_outcomes(processed)

    async def record_preferences(event: IdentifyEvent) -> None:
        """Identify traits `nudgeflow_unsubscribed` / `_opt_out_channels` / `_opt_out_playbooks` set the
        user's preferences, exactly as the API does; the record is durable before later events run."""
        if preferences is None:
            return
        current = preferences.get(event.userId)
        try:
            update = current.update_from_traits(event.traits)
        except ValidationError as exc:
            log.warning("ignoring malformed preference traits of %s: %s", event.messageId, exc)
            return
        if update is not None:
            changed = current.changed(update, source="identify", at=event.timestamp)
            await (
                await preference_records.send(
                    key=preferences_key(event.userId), value=changed.model_dump_json().encode()
                )
            )
            preferences.apply(changed)

    async def handle_event(message: Any) -> None:
        decoded = decode_event(message.value)
        if isinstance(decoded, Rejected):
            await dead_letter(message, decoded)
            return
        user_id = decoded.userId
        if message.key != user_id.encode():
            # Keyless or mis-keyed: send it to the user's own partition, where their state lives.
            await (await events.send(key=user_id.encode(), value=message.value))
            metrics.EVENTS.labels("rekeyed").inc()
            stats.rekeyed += 1
            return
        if isinstance(decoded, IdentifyEvent):
            await record_preferences(decoded)
        try:
            processed = process_event(
                parsed.load(user_id, users.get(user_id)),
                decoded,
                engine=rules.engine,
                now=datetime.now(UTC),
                dedupe_window=settings.dedupe_window,
                allows=allows,
            )
        except Exception as exc:  # a bug must not stall the partition: park the record instead
            log.exception("processing failed for %s", decoded.messageId)
            await dead_letter(message, Rejected(reason=f"processing error: {exc!r}", error_type="processing_error"))
            return
        if processed.duplicate:
            metrics.EVENTS.labels("duplicate").inc()
            stats.duplicates += 1
            return
        if not processed.unchanged:
            await commit(user_id, message.partition, processed)
        metrics.EVENTS.labels(decoded.type).inc()
        stats.processed += 1

    async def handle_timer(message: Any) -> None:
        try:
            command = TimerCommand.model_validate_json(message.value)
            stored = users.get(command.user_id)
            if not stored:
                return
            processed = process_timer(
                parsed.load(command.user_id, stored),
                command.timer_id,
                command.due_at,
                engine=rules.engine,
                now=datetime.now(UTC),
                allows=allows,
            )
        except Exception as exc:  # as for events: park it, keep the partition moving
            log.exception("timer command failed at %s[%s]@%s", message.topic, message.partition, message.offset)
            await dead_letter(message, Rejected(reason=f"timer error: {exc!r}", error_type="processing_error"))
            return
        if processed is None:
            metrics.TIMERS.labels("stale").inc()
            return
        await commit(command.user_id, message.partition, processed)
        metrics.TIMERS.labels("fired").inc()
        stats.timers_fired += 1

    @app.agent(inputs, name="process-events")
    async def process_events(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            if event.message.topic == settings.timers_topic:
                await handle_timer(event.message)
            else:
                await handle_event(event.message)

    nudgeflow = NudgeflowApp(app=app, settings=settings, rules=rules, stats=stats, firing=firing)
    nudgeflow.outbox = register_outbox(
        app, settings, deliveries=deliveries, outcomes=outcomes, ready=lambda: nudgeflow.ready, allows=allows
    )

    @app.on_rebalance_complete.connect
    async def _rebalanced(sender: Any, **_: Any) -> None:
        firing.on_rebalance()

    def owned_records() -> tuple[list[tuple[str, Any]], set[int]]:
        owned = {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == settings.user_events_topic}
        return list(users.items()), owned

    @app.timer(interval=5.0)
    async def report_lag() -> None:
        """Prometheus gauges: records behind per owned partition, timers armed and firing lag."""
        consumer = app.consumer
        metrics.CONSUMER_LAG.clear()
        for tp in app.assignor.assigned_actives():
            read = consumer._read_offset.get(tp)  # Faust keeps no public accessor for it
            highwater = consumer.highwater(tp)
            if highwater is None:  # just assigned, nothing fetched yet; raising here would crash the app
                continue
            behind = highwater - (read + 1 if read is not None else 0)
            metrics.CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(max(behind, 0))
        metrics.TIMER_BACKLOG.set(len(firing.schedule))
        if firing.lag_seconds:
            metrics.TIMER_LAG.set(firing.lag_seconds[-1])

    @app.task
    async def fire_due_timers() -> None:
        await firing.run(ready=lambda: nudgeflow.ready, load=owned_records)

    return nudgeflow


def _count_outcomes(processed: Processed) -> None:
    for outcome in processed.outcomes:
        if outcome.kind == "milestone_completed":
            metrics.MILESTONES.labels(outcome.playbook_id or "").inc()
        elif outcome.channel:
            metrics.DELIVERIES.labels(outcome.channel, outcome.kind.value).inc()
