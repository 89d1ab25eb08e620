"""A user's onboarding checklist: each playbook they are in, its steps in ladder order with what is
done, what comes next, what is locked and what is overdue, and each step's button.

Pure, like the engine: progress + playbooks + now in, a `UserChecklist` out. Cost grows with the
playbooks the user is in and their ladders, never with other users.
"""

from __future__ import annotations

from datetime import datetime

from nudgeflow.rules.contracts.deliveries import RenderedLink
from nudgeflow.rules.contracts.progress import ChecklistStep, PlaybookChecklist, StepState, UserChecklist
from nudgeflow.rules.contracts.users import PlaybookProgress, UserProgress
from nudgeflow.rules.ladder import ladder_progress, milestone_view
from nudgeflow.rules.ruleset import Ruleset
from nudgeflow.rules.schema import SIGNUP, Milestone, Playbook
from nudgeflow.rules.templates import RenderError, build_context, render, render_url


def checklist(ruleset: Ruleset, progress: UserProgress, now: datetime) -> UserChecklist:
    playbooks = [
        _playbook(playbook, progress, entered, now)
        for playbook in ruleset.playbooks
        if (entered := progress.playbooks.get(playbook.id)) is not None
    ]
    return UserChecklist(user_id=progress.user_id, as_of=now, playbooks=playbooks)


def _playbook(playbook: Playbook, progress: UserProgress, pp: PlaybookProgress, now: datetime) -> PlaybookChecklist:
    due = _due_times(playbook, progress, pp)
    steps: list[ChecklistStep] = []
    next_id: str | None = None
    for milestone in playbook.milestones:
        state_of = pp.milestones.get(milestone.id)
        completed = state_of.completed_at if state_of else None
        locked_by = _missing_prerequisite(milestone, pp)
        state: StepState
        if completed is not None:
            state = "done"
        elif locked_by is not None:
            state = "locked"
        elif next_id is None:
            state, next_id = "next", milestone.id
        else:
            state = "todo"
        due_at = due.get(milestone.id) if completed is None else None
        steps.append(
            ChecklistStep(
                milestone_id=milestone.id,
                title=milestone.title,
                state=state,
                completed_at=completed,
                unlocked_at=state_of.unlocked_at if state_of else None,
                locked_by=locked_by,
                due_at=due_at,
                overdue=due_at is not None and due_at <= now,
                cta=_cta(milestone, playbook, progress, pp) if completed is None else None,
                account_step=milestone.account is not None,
                your_part_done_at=state_of.met_at if state_of and completed is None else None,
            )
        )
    counts = ladder_progress(playbook, pp)
    return PlaybookChecklist(
        playbook_id=playbook.id,
        name=playbook.name,
        entered_at=pp.entered_at,
        done=counts["done"],
        total=counts["total"],
        percent=counts["percent"],
        next_milestone_id=next_id,
        steps=steps,
    )


def _missing_prerequisite(milestone: Milestone, pp: PlaybookProgress) -> str | None:
    after = milestone.when.after
    if after is None:
        return None
    before = pp.milestones.get(after)
    return None if before is not None and before.completed_at is not None else after


def _due_times(playbook: Playbook, progress: UserProgress, pp: PlaybookProgress) -> dict[str, datetime]:
    """Per milestone, the earliest time a started stall rule (or deadline) expects it done by; a `due`
    without `overdue` messages arms no timer and counts from what it counts from."""
    due: dict[str, datetime] = {}
    for stall in playbook.all_stalls:
        started = progress.stalls_started.get(f"{playbook.id}/{stall.key}")
        if started is None:
            continue
        by = started + stall.not_within
        due[stall.milestone] = min(by, due.get(stall.milestone, by))
    for index, milestone in enumerate(playbook.milestones):
        if milestone.due is None or milestone.overdue:
            continue
        of = playbook.due_from(index)
        before = pp.milestones.get(of)
        start = progress.first_seen_at if of == SIGNUP else (before.completed_at if before else None)
        if start is not None:
            by = start + milestone.due
            due[milestone.id] = min(by, due.get(milestone.id, by))
    return due


def _cta(milestone: Milestone, playbook: Playbook, progress: UserProgress, pp: PlaybookProgress) -> RenderedLink | None:
    """The step's button, rendered for this user; a template that fails here (a missing trait) leaves
    the step without a button rather than showing a broken one."""
    if milestone.cta is None:
        return None
    context = build_context(
        user_id=progress.user_id,
        traits=progress.traits,
        event_name=None,
        properties={},
        milestone=milestone_view(milestone),
        progress=ladder_progress(playbook, pp),
        playbook={"id": playbook.id, "name": playbook.name},
    )
    try:
        return RenderedLink(label=render(milestone.cta.label, context), url=render_url(milestone.cta.url, context))
    except RenderError:
        return None
