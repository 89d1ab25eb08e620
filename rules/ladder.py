"""Milestone bookkeeping on a (copied) UserProgress: matching, completion, unlocking.

Functions here mutate the progress they are given; the Engine hands them a
private copy so its own inputs stay untouched.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from nudgeflow.rules.contracts.users import MilestoneProgress, PlaybookProgress, UserProgress
from nudgeflow.rules.schema import Milestone, Playbook


def milestone_state(pp: PlaybookProgress, milestone_id: str) -> MilestoneProgress:
    return pp.milestones.setdefault(milestone_id, MilestoneProgress())


def prerequisite_met(pp: PlaybookProgress, milestone: Milestone, at: datetime) -> bool:
    """`after` holds when the prerequisite was completed no later than the event."""
    if milestone.when.after is None:
        return True
    before = pp.milestones.get(milestone.when.after)
    return before is not None and before.completed_at is not None and before.completed_at <= at


def record_match(ms: MilestoneProgress, milestone: Milestone, at: datetime) -> bool:
    """Count one matching event at `at`; True when the milestone's condition now holds."""
    ms.matching_events += 1
    when = milestone.when
    if when.within is None:
        return ms.matching_events >= when.count
    times = sorted([*ms.matching_times, at])
    newest = times[-1]
    times = [t for t in times if newest - t <= when.within][-when.count :]
    ms.matching_times = times
    return len(times) >= when.count and times[-1] - times[0] <= when.within


def ladder_progress(playbook: Playbook, pp: PlaybookProgress) -> dict[str, Any]:
    """{done, total, remaining, next, percent} as shown to users in templates."""
    # Cost grows with what this user did, not with the ladder's length.
    done_ids = {mid for mid, ms in pp.milestones.items() if ms.completed_at is not None}
    total = len(playbook.milestones)
    done = sum(1 for mid in done_ids if playbook.milestone(mid) is not None)
    upcoming = next((m for m in playbook.milestones if m.id not in done_ids), None)
    return {
        "done": done,
        "total": total,
        "remaining": total - done,
        "next": upcoming.title if upcoming else None,
        "percent": round(100 * done / total) if total else 100,
    }


def enter(progress: UserProgress, playbook: Playbook, version: str, at: datetime) -> PlaybookProgress:
    """Start a playbook: the first rung of the ladder is unlocked on entry."""
    pp = PlaybookProgress(playbook_version=version, entered_at=at)
    milestone_state(pp, playbook.milestones[0].id).unlocked_at = at
    progress.playbooks[playbook.id] = pp
    return pp


def unlock_targets(playbook: Playbook, pp: PlaybookProgress, milestone: Milestone, at: datetime) -> list[str]:
    """Mark what `milestone` unlocks; returns ids newly unlocked (not already open or done)."""
    opened = []
    for target in playbook.unlocked_by(milestone):
        ms = milestone_state(pp, target)
        if ms.unlocked_at is None and ms.completed_at is None:
            ms.unlocked_at = at
            opened.append(target)
    return opened


def milestone_view(milestone: Milestone) -> dict[str, Any]:
    """What templates see as `milestone`."""
    return milestone.model_dump(include={"id", "title", "purpose", "expected_actions", "risks", "success_criteria"})
