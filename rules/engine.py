"""The rules engine: pure functions from (progress, event) to (new progress, decisions).

No I/O and no clock reads: the orchestrator and the simulator pass `now`, so
the same inputs always give the same decisions (replays are safe).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from events.segment import IdentifyEvent, TrackEvent
from rules import stalls
from rules.decisions import (
    Decision,
    DeliveryKind,
    DeliveryRequest,
    MilestoneCompleted,
    MilestoneUnlocked,
    TimerDue,
)
from rules.deliveries import build_delivery
from rules.ladder import (
    enter,
    ladder_progress,
    milestone_state,
    prerequisite_met,
    record_match,
    unlock_targets,
)
from rules.predicates import matches
from rules.ruleset import Ruleset
from rules.schema import Message, Milestone, Playbook, Stall
from rules.state import UserProgress
from rules.timing import schedule


@dataclass
class EngineResult:
    progress: UserProgress
    decisions: list[Decision] = field(default_factory=list)


def _valid_zone(name: object) -> str | None:
    if not isinstance(name, str) or not name:
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return name


class Engine:
    """Evaluates one Ruleset; build a new Engine when the rules are reloaded."""

    def __init__(self, ruleset: Ruleset):
        self.ruleset = ruleset
        self.version = ruleset.version
        index: dict[str, list[tuple[Playbook, Milestone]]] = defaultdict(list)
        for playbook in ruleset.playbooks:
            for milestone in playbook.milestones:
                index[milestone.when.event].append((playbook, milestone))
        self.by_event: dict[str, tuple[tuple[Playbook, Milestone], ...]] = {
            name: tuple(pairs) for name, pairs in index.items()}
        stall_index: dict[str, list[tuple[Playbook, Stall]]] = defaultdict(list)
        for playbook in ruleset.playbooks:
            for stall in playbook.stalls:
                if stall.of_is_event:
                    stall_index[stall.of].append((playbook, stall))
        self.stalls_by_event = {name: tuple(pairs) for name, pairs in stall_index.items()}

    def on_event(self, progress: UserProgress, event: TrackEvent | IdentifyEvent,
                 now: datetime) -> EngineResult:
        """Apply one product event; never mutates `progress`."""
        p = progress.model_copy(deep=True)
        decisions: list[Decision] = []
        at = event.timestamp
        if p.first_seen_at is None or at < p.first_seen_at:
            p.first_seen_at = at
        if isinstance(event, IdentifyEvent):
            p.traits.update(event.traits)
        p.timezone = (_valid_zone(event.context.timezone) or _valid_zone(p.traits.get("timezone"))
                      or p.timezone)
        self._enter_playbooks(p, at, now, decisions)
        if isinstance(event, TrackEvent):
            for playbook, milestone in self.by_event.get(event.event, ()):
                if playbook.id in p.playbooks:
                    self._match(p, playbook, milestone, event, now, decisions)
            for playbook, stall in self.stalls_by_event.get(event.event, ()):
                if playbook.id in p.playbooks:
                    stalls.start(p, playbook, stall, at, self.version, decisions)
        return EngineResult(progress=p, decisions=decisions)

    def on_timer(self, progress: UserProgress, timer: TimerDue, now: datetime) -> EngineResult:
        """A stall timer fired: nudge if the milestone is still not done, then arm the next step."""
        p = progress.model_copy(deep=True)
        decisions: list[Decision] = []
        pending = p.timers.pop(timer.timer_id, None)
        if pending is not None and timer.due_at < pending.due_at:  # an older firing of a re-armed id
            p.timers[timer.timer_id] = pending
            return EngineResult(progress=progress.model_copy(deep=True), decisions=decisions)
        playbook = self.ruleset.playbook(pending.playbook_id) if pending else None
        stall = stalls.find(playbook, pending.stall_key) if pending else None
        if pending is None or playbook is None or stall is None or playbook.id not in p.playbooks:
            return EngineResult(progress=p, decisions=decisions)  # cancelled, duplicate, or rule removed
        milestone = playbook.milestone(stall.milestone)
        if milestone is None or p.completed(playbook.id, milestone.id) or pending.step >= stall.steps:
            return EngineResult(progress=p, decisions=decisions)
        sent = self._deliver(p, playbook, milestone, stall.nudge(pending.step), "nudge", pending.step,
                             now, None)
        decisions.append(sent)
        if pending.step + 1 < stall.steps:
            base = sent.send_at if isinstance(sent, DeliveryRequest) else max(now, pending.due_at)
            decisions.append(stalls.arm(p, playbook, stall, pending.step + 1,
                                        base + stall.delay(pending.step + 1), self.version))
        return EngineResult(progress=p, decisions=decisions)

    def _deliver(self, p: UserProgress, playbook: Playbook, milestone: Milestone, message: Message,
                 kind: DeliveryKind, step: int, now: datetime, event: TrackEvent | None) -> Decision:
        built = build_delivery(progress=p, playbook=playbook, version=self.version, milestone=milestone,
                               message=message, kind=kind, step=step, now=now, event=event)
        if isinstance(built, DeliveryRequest):
            return schedule(p, playbook.timing, built, now)
        return built

    def _enter_playbooks(self, p: UserProgress, at: datetime, now: datetime,
                         decisions: list[Decision]) -> None:
        for playbook in self.ruleset.playbooks:
            if playbook.id not in p.playbooks and matches(playbook.audience, {**p.traits, "id": p.user_id}):
                enter(p, playbook, self.version, at)
                self._entered(p, playbook, at, now, decisions)

    def _entered(self, p: UserProgress, playbook: Playbook, at: datetime, now: datetime,
                 decisions: list[Decision]) -> None:
        stalls.on_entry(p, playbook, self.version, decisions)

    def _match(self, p: UserProgress, playbook: Playbook, milestone: Milestone, event: TrackEvent,
               now: datetime, decisions: list[Decision]) -> None:
        pp = p.playbooks[playbook.id]
        ms = milestone_state(pp, milestone.id)
        at = event.timestamp
        if ms.completed_at is not None or not matches(milestone.when.where, event.properties):
            return
        if not prerequisite_met(pp, milestone, at):
            return
        if record_match(ms, milestone, at):
            self._complete(p, playbook, milestone, event, now, decisions)

    def _complete(self, p: UserProgress, playbook: Playbook, milestone: Milestone, event: TrackEvent,
                  now: datetime, decisions: list[Decision]) -> None:
        pp = p.playbooks[playbook.id]
        ms = milestone_state(pp, milestone.id)
        at = event.timestamp
        ms.completed_at = at
        ms.matching_times = []
        ids = dict(user_id=p.user_id, playbook_id=playbook.id, playbook_version=self.version)
        counts = ladder_progress(playbook, pp)
        decisions.append(MilestoneCompleted(
            **ids, milestone_id=milestone.id, completed_at=at, done=counts["done"], total=counts["total"],
            first_value=milestone.id == playbook.first_value,
            since_entry_seconds=max(0.0, (at - pp.entered_at).total_seconds())))
        for target in unlock_targets(playbook, pp, milestone, at):
            decisions.append(MilestoneUnlocked(**ids, milestone_id=target, unlocked_at=at,
                                               unlocked_by=milestone.id))
        if not ms.celebrated:
            ms.celebrated = True
            for message in milestone.celebrate:
                decisions.append(self._deliver(p, playbook, milestone, message, "celebration", 0, now, event))
        stalls.on_completion(p, playbook, milestone.id, at, self.version, decisions)
