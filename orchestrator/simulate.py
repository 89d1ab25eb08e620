"""Replay product events through the worker's own pipeline step on a virtual clock.

Lets a CS person see exactly what a playbook would send, and when, before it goes
live: the simulator drives the same `PipelineStep` as the worker (per-user
de-duplication, deferral to quiet hours and caps, preferences set by identify
traits, timers armed from each user's record) and only supplies the clock, a dict
for the users table and lists for the topics. Deterministic: the same rules and
events give byte-identical output.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from nudgeflow.channels.preferences.store import PreferencesStore
from nudgeflow.orchestrator.clock import ManualClock
from nudgeflow.orchestrator.pipeline import Call, FixedEngine, PipelineStep, StepResult
from nudgeflow.orchestrator.timers.schedule import TimerSchedule
from nudgeflow.rules.contracts.accounts import AccountRecord, AccountSignal
from nudgeflow.rules.contracts.deliveries import DeliveryRequest
from nudgeflow.rules.contracts.outcomes import Outcome
from nudgeflow.rules.contracts.timers import TimerCommand
from nudgeflow.rules.contracts.users import UserProgress, UserRecord
from nudgeflow.rules.decisions import Decision
from nudgeflow.rules.engine import Engine
from nudgeflow.rules.ruleset import Ruleset

DEDUPE_WINDOW = 1000  # the worker's default (Settings.dedupe_window)
PARTITION = 0  # one virtual partition holds every user


@dataclass
class SimulationReport:
    """Every decision with the virtual time it was made, what was sent when, and each user's final state."""

    ruleset: Ruleset
    decisions: list[tuple[datetime, Decision]] = field(default_factory=list)
    sent: list[tuple[datetime, DeliveryRequest]] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    records: dict[str, UserRecord] = field(default_factory=dict)
    accounts: dict[str, AccountRecord] = field(default_factory=dict)
    events_processed: int = 0
    events_filtered: int = 0  # read by no rule: the worker's ingest stage drops them too
    duplicates_skipped: int = 0
    timers_fired: int = 0

    @property
    def progress(self) -> dict[str, UserProgress]:
        return {user_id: record.progress for user_id, record in self.records.items()}

    def json_lines(self) -> list[str]:
        """One JSON object per decision: {"at": virtual time, ...decision fields}."""
        return [
            json.dumps({"at": at.isoformat(), **decision.model_dump(mode="json")}, sort_keys=True, ensure_ascii=False)
            for at, decision in self.decisions
        ]

    def of_type(self, kind: str) -> list[Decision]:
        return [d for _, d in self.decisions if d.type == kind]


class Simulation:
    """The pipeline step over a virtual clock. Timers due before an event fire first, in due order."""

    def __init__(self, ruleset: Ruleset, *, dedupe_window: int = DEDUPE_WINDOW) -> None:
        self.report = SimulationReport(ruleset=ruleset)
        self.preferences = PreferencesStore()
        self.step = PipelineStep(
            FixedEngine(Engine(ruleset)), dedupe_window=dedupe_window, preferences=self.preferences
        )
        self.schedule = TimerSchedule()
        self.clock: ManualClock | None = None

    def run(self, events: Iterable[Call], until: datetime | None = None) -> SimulationReport:
        """Events in event-time order (ties keep input order). With `until`, timers due up to it fire
        after the last event; without it, every pending timer fires (stall rules are bounded by
        max_nudges, so this ends)."""
        for _, event in sorted(enumerate(events), key=lambda pair: (pair[1].timestamp, pair[0])):
            if until is not None and event.timestamp > until:
                break
            self.fire_due(before=event.timestamp)
            if not self.step.reads(event):  # the worker's ingest stage drops it before the pipeline
                self.report.events_filtered += 1
                continue
            self.on_event(event)
        self.fire_due(until=until)
        return self.report

    def on_event(self, event: Call) -> None:
        at = self._tick(event.timestamp)
        self._event_at(event, at)

    def _event_at(self, event: Call, at: datetime) -> None:
        result = self.step.on_event(self._record(event.owner), event, at)
        if result.status == "duplicate":
            self.report.duplicates_skipped += 1
        elif result.status != "forwarded":
            self.report.events_processed += 1
        self._commit(event.owner, at, result)

    def fire_due(self, *, before: datetime | None = None, until: datetime | None = None) -> None:
        """Fire timers due strictly before `before`, or up to and including `until` (None: all)."""
        while (next_due := self.schedule.next_due()) is not None:
            if before is not None and next_due >= before.timestamp():
                return
            if until is not None and next_due > until.timestamp():
                return
            for timer in self.schedule.pop_due(next_due):
                at = self._tick(timer.due_at)
                command = TimerCommand(user_id=timer.user_id, timer_id=timer.timer_id, due_at=timer.due_at)
                result = self.step.on_timer(self._record(timer.user_id), command, at)
                if result.status == "fired":
                    self.report.timers_fired += 1
                self._commit(timer.user_id, at, result)

    def _tick(self, at: datetime) -> datetime:
        if self.clock is None:
            self.clock = ManualClock(at)
        self.clock.set(at)
        return self.clock.now()

    def _record(self, user_id: str) -> UserRecord:
        return self.report.records.get(user_id) or UserRecord.new(user_id)

    def _commit(self, user_id: str, at: datetime, result: StepResult) -> None:
        """What the worker publishes and stores, in the same order; the topics are the report's lists."""
        if result.preferences is not None:
            self.preferences.apply(result.preferences)
        self.report.decisions += [(at, decision) for decision in result.decisions]
        self.report.sent += [(at, request) for request in result.sent]
        self.report.outcomes += result.outcomes
        if result.changed:
            record = result.record.model_copy(update={"partition": PARTITION})
            self.report.records[user_id] = record
            self.schedule.sync_user(user_id, PARTITION, record.due_times())
        for signal in result.signals:
            self._to_account(signal, at)
        for merge in result.merges:  # the relay topic, at the same virtual time
            self._commit(merge.into_id, at, self.step.on_merge(self._record(merge.into_id), merge, at))
        for event in result.forwards:
            self._event_at(event, at)

    def _to_account(self, signal: AccountSignal, at: datetime) -> None:
        """The accounts topic without the topic: the account counts the signal at once, and its
        notices reach the members at the same virtual time."""
        account = self.report.accounts.get(signal.account_id) or AccountRecord.new(signal.account_id)
        stepped = self.step.on_account_signal(account, signal)
        if stepped.changed:
            self.report.accounts[signal.account_id] = stepped.record
        for notice in stepped.notices:
            self._commit(notice.user_id, at, self.step.on_notice(self._record(notice.user_id), notice, at))


def simulate(
    ruleset: Ruleset, events: Iterable[Call], until: datetime | None = None, *, dedupe_window: int = DEDUPE_WINDOW
) -> SimulationReport:
    """Process events in event-time order through the worker's pipeline step; see `Simulation.run`."""
    return Simulation(ruleset, dedupe_window=dedupe_window).run(events, until)
