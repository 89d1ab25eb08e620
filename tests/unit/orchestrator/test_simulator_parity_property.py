"""`nudgeflow simulate` previews what the worker does: for random users, events, time zones, quiet
hours and preferences, the worker's agent handler (in-memory topics and table, timers through the
timers topic, a manual clock moved the way real time passes) and the simulator send the same
deliveries in the same order, and record the same outcomes."""

from __future__ import annotations

import asyncio
import json
import tempfile
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from nudgeflow.channels.preferences.store import PreferencesStore
from nudgeflow.orchestrator.clock import ManualClock
from nudgeflow.orchestrator.handler import InputHandler, TimerPublisher
from nudgeflow.orchestrator.pipeline import Event, FixedEngine, PipelineStep
from nudgeflow.orchestrator.simulate import DEDUPE_WINDOW, simulate
from nudgeflow.orchestrator.timers.firing import TimerFiring
from nudgeflow.orchestrator.timers.index import TimerIndex
from nudgeflow.rules import Engine, Ruleset, load_ruleset
from nudgeflow.rules.contracts.events import IdentifyEvent, TrackEvent
from tests.support.memory import MemoryBroker, MemoryMessage
from tests.support.playbooks import onboarding_playbook

T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
PARTITIONS = 4
QUIET_HOURS = [None, ("21:00", "08:00"), ("22:00", "07:00"), ("00:00", "06:00")]
ZONES = [None, "UTC", "Europe/Paris", "America/Los_Angeles", "Asia/Tokyo", "Australia/Adelaide"]
USERS = ["ana", "bo", "cy"]
TRACKED = ["Data Source Connected", "Teammate Invited", "Page Viewed"]
Delivered = tuple[str, str, str]  # delivery id, channel, user


@cache
def ruleset(quiet: int) -> Ruleset:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "trial.yaml"
        path.write_text(onboarding_playbook(QUIET_HOURS[quiet]))
        return load_ruleset(path)


@st.composite
def traits(draw: st.DrawFn) -> dict[str, Any]:
    values: dict[str, Any] = {"role": draw(st.sampled_from(["admin", "admin", "viewer"]))}
    if draw(st.booleans()):
        values["nudgeflow_opt_out_channels"] = draw(st.lists(st.sampled_from(["in_app", "email"]), unique=True))
    if draw(st.integers(0, 5)) == 0:
        values["nudgeflow_unsubscribed"] = draw(st.booleans())
    return values


@st.composite
def streams(draw: st.DrawFn) -> list[Event]:
    """Events of a few users over three days, some of them delivered twice (same record), some reusing
    another user's messageId (de-duplication is per user)."""
    events: list[Event] = []
    for number in range(draw(st.integers(1, 24))):
        user = draw(st.sampled_from(USERS))
        when = T0 + timedelta(minutes=draw(st.integers(0, 3 * 24 * 60)))
        if events and draw(st.integers(0, 6)) == 0:
            events.append(draw(st.sampled_from(events)))  # at-least-once: the same record again
        elif draw(st.booleans()):
            zone = draw(st.sampled_from(ZONES))
            context = {"timezone": zone} if zone else {}
            events.append(
                IdentifyEvent(
                    type="identify",
                    messageId=f"m{number}",
                    userId=user,
                    timestamp=when,
                    traits=draw(traits()),
                    context=context,
                )
            )
        else:
            name = draw(st.sampled_from(TRACKED))
            message_id = f"m{number}"
            if events and draw(st.integers(0, 6)) == 0:
                message_id = draw(st.sampled_from(events)).messageId  # another user's id: not a duplicate
            events.append(
                TrackEvent(type="track", messageId=message_id, userId=user, timestamp=when, event=name, properties={})
            )
    return events


@dataclass
class WorkerRun:
    delivered: list[Delivered]
    outcomes: list[str]


async def run_worker(rules: Ruleset, events: list[Event]) -> WorkerRun:
    """Drive the event agent's handler the way Faust and the timer task do, on a manual clock."""
    broker = MemoryBroker(partitions=PARTITIONS)
    outputs = broker.outputs()
    clock = ManualClock(T0)
    table: dict[str, Any] = {}
    preferences = PreferencesStore()
    timers = TimerIndex({})
    firing = TimerFiring(TimerPublisher(outputs.timers), timers, clock=clock)
    handler = InputHandler(
        PipelineStep(FixedEngine(Engine(rules)), dedupe_window=DEDUPE_WINDOW, preferences=preferences),
        table=table,
        topics=outputs,
        timers_topic="timers",
        timers=timers,
        clock=clock,
        preferences=preferences,
    )

    async def let_time_pass(to: datetime | None) -> None:
        """Real time passes through each due time: the timer task publishes, the agent consumes."""
        while (due := timers.earliest(range(PARTITIONS))) is not None and (to is None or due < to.timestamp()):
            clock.set(datetime.fromtimestamp(due, UTC))
            await firing.fire_due(set(range(PARTITIONS)))
            for command in outputs.timers.take():
                await handler.handle(command)

    # The product's events, in the order they happened (the topic's order per user), through the
    # ingest stage's pre-filter as in the worker: what no rule reads never reaches the agent.
    for offset, (_, item) in enumerate(sorted(enumerate(events), key=lambda pair: (pair[1].timestamp, pair[0]))):
        await let_time_pass(item.timestamp)
        if not handler.step.reads(item):
            continue
        clock.set(item.timestamp)
        key = item.userId.encode()
        raw = item.model_dump_json(by_alias=True).encode()
        await handler.handle(MemoryMessage("events", zlib.crc32(key) % PARTITIONS, offset, key, raw))
    await let_time_pass(None)

    delivered: list[Delivered] = []
    for message in broker.log:
        if message.topic in ("prompts", "deliveries"):
            record = json.loads(message.value or b"")
            delivered.append((record["delivery_id"], record.get("channel", "in_app"), record["user_id"]))
    outcomes = [json.loads(value or b"")["outcome_id"] for value in broker.values("outcomes")]
    return WorkerRun(delivered, outcomes)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(quiet=st.integers(0, len(QUIET_HOURS) - 1), events=streams())
def test_worker_and_simulator_send_the_same_deliveries_in_the_same_order(quiet: int, events: list[Event]) -> None:
    rules = ruleset(quiet)
    report = simulate(rules, events)
    worker = asyncio.run(run_worker(rules, events))
    simulated = [(r.delivery_id, r.channel, r.user_id) for _, r in report.sent]
    # The same order on each topic (the in-app prompts, the deliveries of the other channels); across
    # the two topics no consumer sees an order, and one step publishes its prompts before its deliveries.
    for in_app in (True, False):
        assert [d for d in worker.delivered if (d[1] == "in_app") == in_app] == [
            d for d in simulated if (d[1] == "in_app") == in_app
        ]
    assert worker.outcomes == [o.outcome_id for o in report.outcomes]
    event(f"deliveries: {min(len(simulated), 5)}+" if len(simulated) >= 5 else f"deliveries: {len(simulated)}")
    event(f"deferred: {any(o.kind == 'delivery_deferred' for o in report.outcomes)}")
    event(f"held by preferences: {any(o.attributes.get('reason') == 'preferences' for o in report.outcomes)}")
