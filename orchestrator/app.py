"""The Faust application: topics, the per-user table and the event-processing agent.

Flow per batch of records (`EventAgent`): per record decode → (dead-letter | re-key |
dedupe) → rules engine → publish prompts, deliveries and outcomes; then wait once for the
broker's acks of the batch → only then store the users' new state (`InputHandler`, around
the shared `PipelineStep`) → ack the records, so Faust commits past them.
Due timers (stall nudges, deferred sends) come back through the timers topic into
the same agent, so they are applied in order with the user's events.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any, cast

import faust

from nudgeflow.channels.preferences.store import PreferencesStore, allow_all
from nudgeflow.orchestrator import metrics
from nudgeflow.orchestrator.broker import faust_patches, shared_block_cache
from nudgeflow.orchestrator.broker.bulk_restore import use_bulk_restore
from nudgeflow.orchestrator.broker.clients import faust_credentials
from nudgeflow.orchestrator.broker.faust_context import as_current_event
from nudgeflow.orchestrator.broker.faust_fetch_wait import set_fetch_wait
from nudgeflow.orchestrator.broker.partitioning import partitioner
from nudgeflow.orchestrator.broker.stall_watch import StallWatch, highwater_of
from nudgeflow.orchestrator.broker.table_manager import DeclaredTablesManager
from nudgeflow.orchestrator.broker.tansu_offsets import correct_recovery_highwaters
from nudgeflow.orchestrator.clock import Clock, SystemClock
from nudgeflow.orchestrator.event_agent import EventAgent
from nudgeflow.orchestrator.handler import InputHandler, OutputTopics, ProcessingStats, TimerPublisher
from nudgeflow.orchestrator.inbox.agent import register_inbox
from nudgeflow.orchestrator.inbox.applied import AppliedPrompts
from nudgeflow.orchestrator.outbox.agent import register_outbox
from nudgeflow.orchestrator.outbox.sender import OutboxSender
from nudgeflow.orchestrator.pipeline import PipelineStep
from nudgeflow.orchestrator.rules_holder import RulesHolder
from nudgeflow.orchestrator.settings import Settings
from nudgeflow.orchestrator.tables import store_options
from nudgeflow.orchestrator.timers.firing import TimerFiring
from nudgeflow.orchestrator.timers.index import TimerIndex

log = logging.getLogger(__name__)
LAG_REPORT_SECONDS = 5.0
STALL_CHECK_SECONDS = 1.0

__all__ = ["NudgeflowApp", "ProcessingStats", "build_app", "faust_options"]


def faust_options(settings: Settings) -> dict[str, Any]:
    """Faust settings per broker profile.

    Tansu holds a JoinGroup reply for up to half the session timeout, so Faust's
    60 s default means ~30 s to a ready worker; 3 s gives ~3.5 s. Not applied to
    Apache Kafka. (Tansu's wrong ListOffsets for multi-record batches is corrected
    where recovery reads it: broker/tansu_offsets.py.)
    """
    options: dict[str, Any] = {}
    if settings.broker_profile == "tansu":
        options.update(
            broker_session_timeout=3.0,
            broker_heartbeat_interval=1.0,
            broker_request_timeout=10.0,
        )
    return options


@dataclass
class NudgeflowApp:
    """The Faust app plus the handles the worker and tests need."""

    app: faust.App
    settings: Settings
    rules: RulesHolder
    stats: ProcessingStats
    firing: TimerFiring
    handler: InputHandler
    inbox: Any = None  # the Faust `inbox` table (inbox/agent.py)
    applied: AppliedPrompts = field(default_factory=AppliedPrompts)  # status changes read back (inbox/applied.py)
    outbox: OutboxSender | None = None
    loops: dict[str, Callable[[], Awaitable[None]]] = field(default_factory=dict)
    """Loops that must run until shutdown; the worker runs them under its supervisor."""

    @property
    def ready(self) -> bool:
        recovery = cast(Any, self.app.tables).recovery  # Faust's TableManagerT does not declare it
        return bool(recovery.completed.is_set() and not self.app.rebalancing)


@dataclass(frozen=True, slots=True)
class WorkerTopics:
    """The Faust topics of one app, all raw bytes: decoding is ours (a dead-letter path needs the bytes)."""

    inputs: faust.TopicT  # events and timers, one stream: a user's timers apply in order with their events
    events: faust.TopicT
    timers: faust.TopicT
    dead_letters: faust.TopicT
    prompts: faust.TopicT
    deliveries: faust.TopicT
    outcomes: faust.TopicT
    preferences: faust.TopicT
    relay: faust.TopicT

    @classmethod
    def declare(cls, app: faust.App, settings: Settings) -> WorkerTopics:
        def raw(*names: str, partitions: int | None = None) -> faust.TopicT:
            return app.topic(*names, partitions=partitions, key_serializer="raw", value_serializer="raw")

        partitions = settings.topic_partitions
        return cls(
            # Events arrive through the ingest stage, keyed by user with Nudgeflow's partitioner.
            inputs=raw(settings.user_events_topic, settings.timers_topic, settings.relay_topic, partitions=partitions),
            events=raw(settings.user_events_topic, partitions=partitions),
            timers=raw(settings.timers_topic, partitions=partitions),
            dead_letters=raw(settings.dead_letter_topic),
            prompts=raw(settings.prompts_topic, partitions=partitions),  # on the user's partition (inbox/agent.py)
            deliveries=raw(settings.deliveries_topic, partitions=partitions),
            outcomes=raw(settings.outcomes_topic),
            preferences=raw(settings.preferences_topic),
            relay=raw(settings.relay_topic, partitions=partitions),  # keyed by account or by user
        )

    def outputs(self) -> OutputTopics:
        """What the event agent writes to."""
        return OutputTopics(
            events=self.events,
            timers=self.timers,
            dead_letters=self.dead_letters,
            prompts=self.prompts,
            deliveries=self.deliveries,
            outcomes=self.outcomes,
            preferences=self.preferences,
            relay=self.relay,
        )


def faust_app(settings: Settings, bootstrap_servers: str) -> faust.App:
    data_dir = settings.table_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        settings.app_id,
        broker=f"kafka://{bootstrap_servers}",
        store=settings.state_store,
        table_standby_replicas=settings.standby_replicas,
        web_enabled=False,
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.replication_factor,
        table_cleanup_interval=3600.0,
        datadir=str(data_dir),
        tabledir=str(data_dir),
        consumer_auto_offset_reset="earliest",
        broker_credentials=faust_credentials(settings),
        producer_partitioner=partitioner,  # the one partitioner of every topic Nudgeflow writes
        TableManager=DeclaredTablesManager,  # no fixed 1 s wait at start: broker/table_manager.py
        canonical_url=settings.advertised_api_url,  # shared with the group: who owns which partition (serving/)
        **faust_options(settings),
    )
    set_fetch_wait(app, settings.fetch_wait_ms)
    return app


class TimerDriver:
    """Runs `TimerFiring` in the app over the partitions this worker owns (scanned from their heads
    again after each rebalance), and reports the timers armed and the consumer lag."""

    def __init__(self, nudgeflow: NudgeflowApp) -> None:
        self.nudgeflow = nudgeflow

    def owned(self) -> set[int]:
        app, events_topic = self.nudgeflow.app, self.nudgeflow.settings.user_events_topic
        return {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == events_topic}

    async def on_rebalance_complete(self, sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        self.nudgeflow.firing.on_rebalance()

    async def fire_due_timers(self) -> None:
        await self.nudgeflow.firing.run(ready=lambda: self.nudgeflow.ready, owned=self.owned)

    async def report_lag(self) -> None:
        """Prometheus gauges: records behind per owned partition, timers armed and firing lag."""
        app, firing = self.nudgeflow.app, self.nudgeflow.firing
        consumer = cast(Any, app.consumer)
        metrics.CONSUMER_LAG.clear()
        for tp in app.assignor.assigned_actives():
            read = consumer._read_offset.get(tp)  # Faust keeps no public accessor for it
            highwater = highwater_of(consumer, tp)
            if highwater is None:  # just assigned, nothing fetched yet; raising here would crash the app
                continue
            behind = highwater - (read + 1 if read is not None else 0)
            metrics.CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(max(behind, 0))
        metrics.TIMER_BACKLOG.set(firing.index.count(self.owned()))
        if firing.lag_seconds:
            metrics.TIMER_LAG.set(firing.lag_seconds[-1])


def build_app(
    settings: Settings,
    *,
    bootstrap_servers: str,
    rules: RulesHolder,
    preferences: PreferencesStore | None = None,
    clock: Clock | None = None,
    outputs: OutputTopics | None = None,
) -> NudgeflowApp:
    """`preferences` (followed from the preferences topic) are checked at send time on every channel.
    `clock` and `outputs` (where the event agent writes; default: the app's Kafka topics) let tests run
    the wired agent without a broker."""
    clock = clock or SystemClock()
    faust_patches.apply()  # never commit past an unprocessed record (docs/architecture.md)
    shared_block_cache.apply()  # one block cache for all the worker's table partitions
    if settings.broker_profile == "tansu":
        correct_recovery_highwaters()  # Tansu lists a batched partition's end short (docs/deploy.md)
    app = faust_app(settings, bootstrap_servers)
    # A lost data directory comes back from the changelog in bulk (docs/deploy.md).
    use_bulk_restore(app, min_records=settings.bulk_restore_min_records)
    topics = WorkerTopics.declare(app, settings)
    users: MutableMapping[str, Any] = app.Table(
        "users", partitions=settings.topic_partitions, options=store_options(settings)
    )
    timers = TimerIndex(
        app.Table(
            "timers",
            partitions=settings.topic_partitions,
            key_type=bytes,  # raw keys: RocksDB keeps them in due-time order
            value_type=bytes,
            options=store_options(settings),
        )
    )
    outputs = outputs or topics.outputs()
    firing = TimerFiring(TimerPublisher(outputs.timers), timers, clock=clock)
    handler = InputHandler(
        PipelineStep(rules, dedupe_window=settings.dedupe_window, preferences=preferences),
        table=users,
        topics=outputs,
        timers_topic=settings.timers_topic,
        timers=timers,
        clock=clock,
        relay_topic=settings.relay_topic,
        # Account-level milestones: one record per account id, on the account's partition.
        accounts=app.Table("accounts", partitions=settings.topic_partitions, options=store_options(settings)),
        preferences=preferences,
        max_event_bytes=settings.max_event_bytes,
        max_event_depth=settings.max_event_depth,
        in_context=as_current_event,
    )
    nudgeflow = NudgeflowApp(
        app=app, settings=settings, rules=rules, stats=handler.stats, firing=firing, handler=handler
    )

    event_agent = EventAgent(
        handler, max_records=settings.batch_max_records, max_wait_seconds=settings.batch_max_wait_ms / 1000
    )

    async def process_events(stream: faust.StreamT[bytes]) -> None:  # Faust wants a coroutine function
        await event_agent(stream)

    app.agent(topics.inputs, name="process-events")(process_events)
    nudgeflow.inbox = register_inbox(app, settings, prompts=topics.prompts, applied=nudgeflow.applied)
    nudgeflow.outbox = register_outbox(
        app,
        settings,
        deliveries=topics.deliveries,
        outcomes=topics.outcomes,
        ready=lambda: nudgeflow.ready,
        allows=preferences.allows if preferences is not None else allow_all,
    )
    driver = TimerDriver(nudgeflow)
    app.on_rebalance_complete.connect(driver.on_rebalance_complete)
    app.timer(interval=LAG_REPORT_SECONDS, name="report_lag")(driver.report_lag)
    watch = StallWatch(app, stall_seconds=settings.partition_stall_seconds, now=time.monotonic)
    app.timer(interval=STALL_CHECK_SECONDS, name="stall_watch")(watch.check)
    nudgeflow.loops["timer-firing"] = driver.fire_due_timers  # supervised by the worker
    return nudgeflow
