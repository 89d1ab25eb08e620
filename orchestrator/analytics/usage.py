"""Feature adoption after unlock, repeat usage of key workflows and nudge effectiveness.

A user counts for a window only once it has fully elapsed by `as_of`: counting early
successes before the others are decided would inflate every share.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np

from nudgeflow.orchestrator.analytics.experiments import compare, rate
from nudgeflow.orchestrator.analytics.results import AdoptionRow, NudgeEffect, RepeatRow
from nudgeflow.orchestrator.analytics.state import UserFacts
from nudgeflow.rules.schema import Playbook

__all__ = ["AdoptionRow", "NudgeEffect", "RepeatRow", "adoption", "nudge_effects", "repeat_usage"]


def _decided(deadline: datetime, as_of: datetime | None) -> bool:
    return as_of is not None and deadline <= as_of


def adoption(playbook: Playbook, users: Sequence[UserFacts], days: int, as_of: datetime | None) -> list[AdoptionRow]:
    """For each unlockable milestone: share of unlocked users who sent its event within `days` of the unlock."""
    targets = {target for m in playbook.milestones for target in playbook.unlocked_by(m)}
    rows = []
    for milestone in (m for m in playbook.milestones if m.id in targets):
        key, event = (playbook.id, milestone.id), milestone.when.event
        unlocked = eligible = adopted = 0
        for user in users:
            at = user.unlocked.get(key)
            if at is None:
                continue
            unlocked += 1
            deadline = at + timedelta(days=days)
            hit = any(at <= used <= deadline for used in user.uses.get(event, ()))
            if _decided(deadline, as_of):
                eligible += 1
                adopted += hit
        rows.append(
            AdoptionRow(
                playbook_id=playbook.id,
                milestone_id=milestone.id,
                event=event,
                days=days,
                unlocked=unlocked,
                eligible=eligible,
                adopted=adopted,
                share=adopted / eligible if eligible else None,
            )
        )
    return rows


def repeat_usage(playbooks: Sequence[Playbook], users: Sequence[UserFacts]) -> list[RepeatRow]:
    """Key workflows are the events the ladders count; repeat = used on two or more UTC days."""
    events = list(dict.fromkeys(m.when.event for p in playbooks for m in p.milestones))
    rows = []
    for event in events:
        counts, repeat = [], 0
        for user in users:
            times = user.uses.get(event)
            if times:
                counts.append(len(times))
                repeat += len({t.astimezone(UTC).date() for t in times}) >= 2
        rows.append(
            RepeatRow(
                event=event,
                users=len(counts),
                repeat_users=repeat,
                share=repeat / len(counts) if counts else None,
                median_uses=float(np.median(counts)) if counts else None,
            )
        )
    return rows


def _holdout_anchor(
    user: UserFacts, key: tuple[str, str], holdout_variants: frozenset[str], as_of: datetime | None
) -> datetime | None:
    """When a held-out user would have been nudged: an explicit holdout suppression, else the due
    time of the stall timer for a user whose exposure put them in a holdout variant."""
    if key in user.held_out:
        return user.held_out[key]
    due = user.nudge_due.get(key)
    if due is None or (as_of is not None and due > as_of):
        return None
    for experiment in user.exposures:
        exposure = user.exposure(experiment)
        if exposure and exposure.variant in holdout_variants and exposure.playbook_id in (None, key[0]):
            return due
    return None


def nudge_effects(
    playbook: Playbook, users: Sequence[UserFacts], hours: int, as_of: datetime | None, holdout_variants: frozenset[str]
) -> list[NudgeEffect]:
    """Completion of the nudged milestone within `hours` of the first nudge, vs held-out users
    over the same span from when their nudge would have gone out."""
    effects = []
    for milestone in playbook.milestones:
        key = (playbook.id, milestone.id)
        groups: dict[str, list[int]] = {"nudged": [0, 0], "holdout": [0, 0]}
        for user in users:
            group, anchor = "nudged", user.nudged.get(key)
            if anchor is None:
                group, anchor = "holdout", _holdout_anchor(user, key, holdout_variants, as_of)
            if anchor is None:
                continue
            done = user.completed.get(key)
            if done is not None and done < anchor:
                continue  # already done before the (would-be) nudge: not at risk
            deadline = anchor + timedelta(hours=hours)
            hit = done is not None and done <= deadline
            if _decided(deadline, as_of):
                groups[group][0] += 1
                groups[group][1] += hit
        if groups["nudged"][0] or groups["holdout"][0]:
            nudged, holdout = rate("nudged", *groups["nudged"]), rate("holdout", *groups["holdout"])
            effects.append(
                NudgeEffect(
                    playbook_id=playbook.id,
                    milestone_id=milestone.id,
                    hours=hours,
                    nudged=nudged,
                    holdout=holdout,
                    lift=compare(nudged, holdout),
                )
            )
    return effects
