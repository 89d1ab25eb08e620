"""Replay product events through the engine on a virtual clock, firing stall timers in time order.

Lets a CS person see exactly what a playbook would send, and when, before it
goes live. Deterministic: the same rules and events give byte-identical output.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from nudgeflow.rules.contracts.events import IdentifyEvent, TrackEvent
from nudgeflow.rules.contracts.users import UserProgress
from nudgeflow.rules.decisions import ArmTimer, CancelTimer, Decision, TimerDue
from nudgeflow.rules.engine import Engine
from nudgeflow.rules.ruleset import Ruleset

if TYPE_CHECKING:
    from rich.console import Console


@dataclass
class SimulationReport:
    """Every decision with the virtual time it was made, plus each user's final progress."""

    ruleset: Ruleset
    decisions: list[tuple[datetime, Decision]] = field(default_factory=list)
    progress: dict[str, UserProgress] = field(default_factory=dict)
    events_processed: int = 0
    duplicates_skipped: int = 0
    timers_fired: int = 0

    def json_lines(self) -> list[str]:
        """One JSON object per decision: {"at": virtual time, ...decision fields}."""
        return [
            json.dumps({"at": at.isoformat(), **decision.model_dump(mode="json")}, sort_keys=True, ensure_ascii=False)
            for at, decision in self.decisions
        ]

    def of_type(self, kind: str) -> list[Decision]:
        return [d for _, d in self.decisions if d.type == kind]


class _Clock:
    """Pending timers ordered by (due time, arm order); re-arming an id replaces it."""

    def __init__(self) -> None:
        self.heap: list[tuple[datetime, int, str]] = []
        self.live: dict[str, tuple[int, TimerDue]] = {}
        self.seq = 0

    def apply(self, decision: Decision) -> None:
        if isinstance(decision, ArmTimer):
            self.seq += 1
            self.live[decision.timer_id] = (self.seq, decision.due())
            heapq.heappush(self.heap, (decision.due_at, self.seq, decision.timer_id))
        elif isinstance(decision, CancelTimer):
            self.live.pop(decision.timer_id, None)

    def pop_due(self, until: datetime | None, inclusive: bool) -> TimerDue | None:
        while self.heap:
            due, seq, timer_id = self.heap[0]
            if until is not None and (due > until or (due == until and not inclusive)):
                return None
            heapq.heappop(self.heap)
            live = self.live.get(timer_id)
            if live and live[0] == seq:
                del self.live[timer_id]
                return live[1]
        return None


def simulate(
    ruleset: Ruleset, events: Iterable[TrackEvent | IdentifyEvent], until: datetime | None = None
) -> SimulationReport:
    """Process events in event-time order; timers due before an event fire first.

    With `until`, timers due up to it fire after the last event; without it, every
    pending timer fires (stall rules are bounded by max_nudges, so this ends).
    """
    engine = Engine(ruleset)
    report = SimulationReport(ruleset=ruleset)
    clock = _Clock()
    ordered = sorted(enumerate(events), key=lambda pair: (pair[1].timestamp, pair[0]))
    seen: set[str] = set()

    def record(at: datetime, decisions: list[Decision]) -> None:
        for decision in decisions:
            clock.apply(decision)
            report.decisions.append((at, decision))

    def fire(limit: datetime | None, inclusive: bool) -> None:
        while (timer := clock.pop_due(limit, inclusive)) is not None:
            progress = report.progress.setdefault(timer.user_id, UserProgress.new(timer.user_id))
            result = engine.on_timer(progress, timer, timer.due_at)
            report.progress[timer.user_id] = result.progress
            report.timers_fired += 1
            record(timer.due_at, result.decisions)

    for _, event in ordered:
        if until is not None and event.timestamp > until:
            break
        fire(event.timestamp, inclusive=False)
        if event.message_id in seen:
            report.duplicates_skipped += 1
            continue
        seen.add(event.message_id)
        progress = report.progress.get(event.user_id) or UserProgress.new(event.user_id)
        result = engine.on_event(progress, event, event.timestamp)
        report.progress[event.user_id] = result.progress
        report.events_processed += 1
        record(event.timestamp, result.decisions)
    fire(until, inclusive=True)
    return report


def run_simulate(
    rules_path: Path, events_path: Path, until: datetime | None, out: Path | TextIO | None, console: Console
) -> int:
    """CLI entry point (`nudgeflow rules simulate`); see nudgeflow.rules.simulate_cli."""
    from nudgeflow.rules.simulate_cli import run_simulate as run

    return run(rules_path, events_path, until, out, console)
