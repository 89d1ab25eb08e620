"""Stall rules: arm a timer when the clock starts, nudge when it fires, cancel on completion.

Timers live outside the engine (Faust table, simulator heap); the engine only
emits ArmTimer/CancelTimer and remembers pending ids in UserProgress so a late
or duplicate fire of a cancelled timer does nothing.
"""

from __future__ import annotations

from datetime import datetime

from nudgeflow.rules.contracts.users import PendingTimer, UserProgress
from nudgeflow.rules.decisions import ArmTimer, CancelTimer, Decision, timer_id_for
from nudgeflow.rules.schema import SIGNUP, Playbook, Stall


def arm(p: UserProgress, playbook: Playbook, stall: Stall, step: int, due_at: datetime, version: str) -> ArmTimer:
    timer_id = timer_id_for(user_id=p.user_id, playbook_id=playbook.id, stall_key=stall.key, step=step)
    p.timers[timer_id] = PendingTimer(
        playbook_id=playbook.id, milestone_id=stall.milestone, stall_key=stall.key, step=step, due_at=due_at
    )
    return ArmTimer(
        timer_id=timer_id,
        user_id=p.user_id,
        due_at=due_at,
        playbook_id=playbook.id,
        milestone_id=stall.milestone,
        nudge_step=step,
        stall_key=stall.key,
        playbook_version=version,
    )


def start(
    p: UserProgress, playbook: Playbook, stall: Stall, at: datetime, version: str, decisions: list[Decision]
) -> None:
    """Start a stall clock once per user; nothing to watch if the milestone is already done."""
    key = f"{playbook.id}/{stall.key}"
    if key in p.stalls_started or p.completed(playbook.id, stall.milestone) is not None:
        return
    p.stalls_started[key] = at
    decisions.append(arm(p, playbook, stall, 0, at + stall.delay(0), version))


def on_entry(p: UserProgress, playbook: Playbook, version: str, decisions: list[Decision]) -> None:
    for stall in playbook.all_stalls:
        if stall.of == SIGNUP and p.first_seen_at is not None:
            start(p, playbook, stall, p.first_seen_at, version, decisions)


def on_completion(
    p: UserProgress, playbook: Playbook, milestone_id: str, at: datetime, version: str, decisions: list[Decision]
) -> None:
    """Completing B cancels its nudges; completing A starts stalls counted from A."""
    for timer_id, timer in sorted(p.timers.items()):
        if timer.playbook_id == playbook.id and timer.milestone_id == milestone_id:
            del p.timers[timer_id]
            decisions.append(CancelTimer(timer_id=timer_id, user_id=p.user_id))
    for stall in playbook.all_stalls:
        if stall.of == milestone_id:
            start(p, playbook, stall, at, version, decisions)


def find(playbook: Playbook | None, stall_key: str) -> Stall | None:
    if playbook is None:
        return None
    return next((s for s in playbook.all_stalls if s.key == stall_key), None)
