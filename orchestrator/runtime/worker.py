"""The worker process: embedded broker if none is configured, topics, Faust app, in-app API.

`Worker` is an async context manager so the CLI, the demo and tests start and
stop the same thing the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import secrets
import time
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import SecretStr

from nudgeflow.channels.inapp.api import close_event_streams, create_inbox_api
from nudgeflow.channels.inapp.auth import SigningKeys
from nudgeflow.channels.inapp.feed import InboxFeed
from nudgeflow.channels.inapp.progress_feed import ProgressFeed
from nudgeflow.channels.inapp.writer import EventWriter, PromptWriter
from nudgeflow.channels.preferences import PreferencesStore
from nudgeflow.orchestrator.app import NudgeflowApp, build_app
from nudgeflow.orchestrator.broker.clients import aiokafka_options, consumer_options
from nudgeflow.orchestrator.broker.embedded import EmbeddedBroker, free_port
from nudgeflow.orchestrator.broker.partitioning import partition_for, partitioner
from nudgeflow.orchestrator.clock import SystemClock
from nudgeflow.orchestrator.feeds.preferences import PreferencesMaterializer, preferences_key
from nudgeflow.orchestrator.inbox.changes import InboxChanges
from nudgeflow.orchestrator.inbox.progress_changes import ProgressChanges
from nudgeflow.orchestrator.ingest.stage import IngestStage, admit_all
from nudgeflow.orchestrator.rules_holder import RulesHolder
from nudgeflow.orchestrator.runtime.http import HttpServer
from nudgeflow.orchestrator.runtime.rules_watch import RulesWatcher
from nudgeflow.orchestrator.runtime.shutdown import before_forced_exit
from nudgeflow.orchestrator.runtime.supervise import Supervisor
from nudgeflow.orchestrator.serving.inbox import RoutedInbox
from nudgeflow.orchestrator.serving.owners import Owners
from nudgeflow.orchestrator.serving.progress import ProgressReader
from nudgeflow.orchestrator.serving.routing import OwnerRouter
from nudgeflow.orchestrator.settings import Settings
from nudgeflow.orchestrator.topics import ensure_topics
from nudgeflow.rules.contracts.preferences import Preferences

log = logging.getLogger(__name__)
CRASH_POLL_SECONDS = 1.0


class Worker:
    """One Nudgeflow worker. `ready_seconds` measures start → partitions assigned and tables recovered."""

    def __init__(self, settings: Settings, *, demo_page: bool = False) -> None:
        self.settings = settings
        self.demo_page = demo_page
        self.broker: EmbeddedBroker | None = None
        self.nudgeflow: NudgeflowApp | None = None
        self.user_partition: Callable[[str], int] = lambda user_id: partition_for(
            user_id.encode(), settings.topic_partitions
        )
        # Inbox changes as they happen, for live streams (and the demo's printer); positions per user partition.
        self.inbox_feed = InboxFeed(self.user_partition)
        self.inbox_changes: InboxChanges | None = None
        self.progress_feed = ProgressFeed()  # checklist changes of the users with a stream open here
        self.progress: ProgressReader | None = None
        self.preferences = PreferencesStore()
        self.http: HttpServer | None = None
        self.ingest: IngestStage | None = None
        self.ready_seconds: float | None = None
        self.supervisor = Supervisor()  # background loops: restarted when they fail, reported by /healthz
        self._stack = contextlib.AsyncExitStack()
        self._started_at = 0.0

    @property
    def bootstrap_servers(self) -> str:
        if self.broker is not None:
            return self.broker.bootstrap_servers
        assert self.settings.kafka_bootstrap_servers
        return self.settings.kafka_bootstrap_servers

    @property
    def api_url(self) -> str | None:
        return self.http.url if self.http else None

    async def __aenter__(self) -> Worker:
        try:
            await self._start()
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._stack.aclose()

    @property
    def failed(self) -> asyncio.Event:
        """Set when a background task failed too often; `failure` says which and why."""
        return self.supervisor.gave_up

    @property
    def failure(self) -> str | None:
        return self.supervisor.reason

    async def _start(self) -> None:
        self._started_at = time.monotonic()
        self._stack.push_async_callback(self.supervisor.stop)  # the last resort; each loop stops before what it uses
        rules = RulesHolder.from_path(self.settings.rules_path)  # invalid playbooks: fail before starting anything
        if self.settings.uses_embedded_broker():
            self.broker = EmbeddedBroker().start()
            self._stack.callback(before_forced_exit(self.broker.kill))  # a forced exit kills it first
            self._stack.callback(self.broker.stop)
            self.settings = self.settings.model_copy(update={"broker_profile": "tansu"})
            log.info("embedded Tansu broker on %s", self.broker.bootstrap_servers)
        if self.settings.run_api and not self.settings.api_port:  # known before the group learns our address
            self.settings = self.settings.model_copy(update={"api_port": free_port(self.settings.api_host)})
        kafka = aiokafka_options(self.settings, self.bootstrap_servers)
        await ensure_topics(self.settings, kafka)
        await self._follow_preferences()
        self.nudgeflow = build_app(
            self.settings, bootstrap_servers=self.bootstrap_servers, rules=rules, preferences=self.preferences
        )
        # Modules, settings and the app live as long as the worker: out of the collector's sight, the full
        # collection Faust runs at every partition assignment and store close takes ~5 ms instead of ~100.
        # (Collected first, so no garbage cycle of an earlier worker in this process is frozen with them.)
        gc.collect()
        gc.freeze()
        # Each joins its own consumer group, and a join waits on the broker (~2 s on Tansu): side by side.
        app_started, ingest_started = await asyncio.gather(
            self.nudgeflow.app.start(), self._start_ingest(kafka), return_exceptions=True
        )
        self._stack.push_async_callback(self._stop_stream_processor)
        if self.nudgeflow.outbox is not None:
            self._stack.push_async_callback(self.nudgeflow.outbox.stop)  # runs before app.stop
        self._stack.push_async_callback(self._stop_ingest)  # stops before the Faust app
        for failed in (app_started, ingest_started):
            if isinstance(failed, BaseException):
                raise failed
        for name, loop in self.nudgeflow.loops.items():
            self._stack.push_async_callback(self.supervisor.spawn(name, loop))
        self._stack.push_async_callback(self.supervisor.spawn("rules-watch", RulesWatcher(rules).run))
        self._stack.push_async_callback(self.supervisor.spawn("stream-processor", self._stream_processor_alive))
        self._background(self._mark_ready(), "ready-watch")
        if self.settings.run_api:
            await self._start_api(kafka)

    async def _start_ingest(self, kafka: dict[str, object]) -> None:
        """Every valid event reaches the agent through Nudgeflow's partitioning (orchestrator/ingest/stage.py)."""
        assert self.nudgeflow is not None
        step = self.nudgeflow.handler.step
        self.ingest = IngestStage(
            self.settings, kafka, admit=step.reads_track if self.settings.ingest_prefilter else admit_all
        )
        await self.ingest.start()

    async def _stop_ingest(self) -> None:
        if self.ingest is not None:
            await self.ingest.stop()

    async def _follow_preferences(self) -> None:
        """Every worker follows the preferences topic: they are checked at send time on every channel."""
        self._preferences_follower = PreferencesMaterializer(
            self.preferences,
            topic=self.settings.preferences_topic,
            kafka_options=consumer_options(self.settings, self.bootstrap_servers),
        )
        await self._preferences_follower.start(self.supervisor.spawn)
        self._stack.push_async_callback(self._preferences_follower.stop)

    async def _start_api(self, kafka: dict[str, object]) -> None:
        """In-app API: inbox and preferences followed from their topics, one producer for what the API
        writes (prompt statuses, events, preferences), token auth, SSE, SendGrid webhook."""
        settings = self.settings
        secret = settings.inapp_signing_secret
        if secret is None:
            secret = SecretStr(secrets.token_urlsafe(32))
            if not self.demo_page:
                log.warning(
                    "NUDGEFLOW_INAPP_SIGNING_SECRET is not set: a random key is used, so no token minted "
                    "by your backend is accepted by the in-app API"
                )
        self.inapp_signing_secret = secret
        preferences = self._preferences_follower
        writer = PromptWriter(
            topic=settings.prompts_topic,
            kafka_options={**kafka, "partitioner": partitioner},
            user_partition=self.user_partition,
        )
        await writer.start()
        self._stack.push_async_callback(writer.stop)
        events = EventWriter(writer, topic=settings.events_topic)

        async def write_preferences(record: Preferences) -> None:
            await writer.send(
                settings.preferences_topic, record.model_dump_json().encode(), key=preferences_key(record.user_id)
            )

        assert self.nudgeflow is not None
        app = self.nudgeflow.app
        router = OwnerRouter(Owners(app, settings))
        self._stack.push_async_callback(router.close)
        progress = self.progress = ProgressReader(app.tables["users"], router, self.nudgeflow.rules, SystemClock())
        origins = [origin.strip() for origin in settings.inapp_allowed_origins.split(",") if origin.strip()]
        keys = SigningKeys.of(secret, settings.inapp_signing_key_id, dict(settings.inapp_previous_signing_keys))
        api = create_inbox_api(
            self.inbox_feed,
            RoutedInbox(self.nudgeflow.inbox, router, self.nudgeflow.applied, SystemClock()),
            writer.write,
            signing_secret=keys,
            publish_event=events.publish,
            preferences=self.preferences,
            write_preferences=write_preferences,
            sendgrid_public_key=settings.sendgrid_webhook_public_key,
            allowed_origins=origins,
            demo_page=self.demo_page,
            max_body_bytes=settings.api_max_body_bytes,
            sendgrid_replay_window_seconds=settings.sendgrid_webhook_replay_window,
            ready=lambda: preferences.caught_up.is_set() and self.is_ready(),
            health=self.supervisor.health,
            read_progress=progress,
            progress_feed=self.progress_feed,
        )
        api.add_api_route(
            "/metrics", lambda: Response(generate_latest(), media_type=CONTENT_TYPE_LATEST), include_in_schema=False
        )
        self.http = HttpServer(api, host=settings.api_host, port=settings.api_port)
        await self.http.start()
        self._stack.push_async_callback(self.http.stop)
        self._stack.push_async_callback(self.supervisor.spawn("http-server", self.http.serving))
        self._stack.callback(close_event_streams, api)  # runs first: open streams end, the server stops promptly

    def is_ready(self) -> bool:
        """Processing (partitions assigned, tables recovered, ingest running) and live streams following."""
        return self._processing() and self.inbox_changes is not None

    def _processing(self) -> bool:
        ingesting = self.ingest is None or self.ingest.running
        return self.nudgeflow is not None and self.nudgeflow.ready and ingesting

    async def wait_ready(self, timeout: float = 60.0) -> float:
        return await self._wait(self.is_ready, timeout)

    async def _wait(self, condition: Callable[[], bool], timeout: float) -> float:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError(f"worker not ready after {timeout:.0f}s")
            await asyncio.sleep(0.05)
        return time.monotonic() - self._started_at

    async def _mark_ready(self) -> None:
        await self._wait(self._processing, timeout=600)
        await self._follow_inbox_changes()
        self.ready_seconds = time.monotonic() - self._started_at
        log.info("worker ready in %.1fs", self.ready_seconds)

    async def _follow_inbox_changes(self) -> None:
        """Live streams hear of inbox changes from the `inbox` changelog (inbox/changes.py); Faust has
        created it once the worker is ready."""
        assert self.nudgeflow is not None
        changes = InboxChanges(
            self.inbox_feed,
            changelog_topic=self.nudgeflow.inbox.changelog_topic.get_topic_name(),
            kafka_options=consumer_options(self.settings, self.bootstrap_servers),
        )
        await changes.start(self.supervisor.spawn)
        self._stack.push_async_callback(changes.stop)
        if self.progress is not None:  # the API runs: its streams get checklist changes too
            progress = ProgressChanges(
                self.progress_feed,
                self.progress.checklist_of,
                changelog_topic=self.nudgeflow.app.tables["users"].changelog_topic.get_topic_name(),
                kafka_options=consumer_options(self.settings, self.bootstrap_servers),
            )
            await progress.start(self.supervisor.spawn)
            self._stack.push_async_callback(progress.stop)
        self.inbox_changes = changes

    async def _stop_stream_processor(self) -> None:
        """A crashed Faust app may fail to stop (its consumer thread is gone): the crash was already
        reported, so the rest of the worker still shuts down."""
        assert self.nudgeflow is not None
        app = self.nudgeflow.app
        try:
            await app.stop()
        except Exception:
            if not app.crashed:
                raise
            log.warning("the crashed stream processor did not stop cleanly", exc_info=True)

    async def _stream_processor_alive(self) -> None:
        """Faust marks its app crashed (an app task raised, a fatal consumer error) but leaves the process
        running without it; as a supervised failure that stops the worker, and /healthz, say so."""
        assert self.nudgeflow is not None
        app = self.nudgeflow.app
        while not app.crashed:
            await asyncio.sleep(CRASH_POLL_SECONDS)
        raise RuntimeError(f"the stream processor (Faust app) crashed: {app.crash_reason!r}")

    def _background(self, coroutine: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.ensure_future(coroutine)
        task.set_name(name)

        async def cancel() -> None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

        self._stack.push_async_callback(cancel)
