"""`due` and `overdue`: a step that should be done within a time of the previous one; past it the
checklist shows it overdue and the overdue messages go out (to the user and/or the CSM)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from nudgeflow.rules import RulesetError
from nudgeflow.rules.checklist import checklist
from nudgeflow.rules.decisions import TimerDue
from tests.support.rules import T0, Run, identify, ruleset_from, track

PLAYBOOK = """\
id: admins
name: Admins
milestones:
  - id: connect_source
    title: Connect a data source
    when: {event: Data Source Connected}
    due: 3d
  - id: invite_teammate
    title: Invite a teammate
    when: {event: Teammate Invited}
    due: 2d
    overdue:
      - {channel: in_app, title: "Invite someone today", body: "Your trial is better with a teammate"}
      - channel: email
        to: csm
        after: 1d
        title: "{{ user.first_name }} is overdue"
        body: "{{ milestone.title }}: {{ stall.waiting }}"
"""


def _fire_due(run: Run) -> list[object]:
    sent = []
    for armed in [d for d in run.decisions if d.type == "arm_timer"]:
        if armed.timer_id in run.progress.timers:
            due = TimerDue(**armed.model_dump(exclude={"type", "playbook_version"}))
            result = run.engine.on_timer(run.progress, due, armed.due_at)
            run.progress, run.decisions = result.progress, run.decisions + result.decisions
            sent += [d for d in result.decisions if d.type.startswith("delivery")]
    return sent


def test_a_step_past_due_is_overdue_on_the_checklist_and_its_messages_go_out_in_order(tmp_path: Path) -> None:
    ruleset = ruleset_from(tmp_path, PLAYBOOK)
    run = Run(ruleset)
    run.send(identify(first_name="Ana", csm_email="carla@vendor.example"))
    steps = {s.milestone_id: s for s in checklist(ruleset, run.progress, T0 + timedelta(days=4)).playbooks[0].steps}
    assert steps["connect_source"].overdue and steps["connect_source"].due_at == T0 + timedelta(days=3)
    run.send(track("Data Source Connected", T0 + timedelta(days=1)))
    steps = {s.milestone_id: s for s in checklist(ruleset, run.progress, T0 + timedelta(days=3)).playbooks[0].steps}
    assert steps["invite_teammate"].due_at == T0 + timedelta(days=3), "2 days after the step before it"
    assert steps["invite_teammate"].overdue
    first = _fire_due(run)
    second = _fire_due(run)
    assert [(d.title, d.data.get("to")) for d in first + second] == [  # type: ignore[attr-defined]
        ("Invite someone today", None),
        ("Ana is overdue", "csm"),
    ]
    assert second[0].send_at == T0 + timedelta(days=4), "the CSM a day after the user's own reminder"  # type: ignore[attr-defined]
    assert second[0].body == "Invite a teammate: 3 days", "how long since the step opened"  # type: ignore[attr-defined]


def test_doing_the_step_in_time_sends_nothing(tmp_path: Path) -> None:
    run = Run(ruleset_from(tmp_path, PLAYBOOK))
    run.send(identify(first_name="Ana"))
    run.send(track("Data Source Connected", T0 + timedelta(hours=1)))
    run.send(track("Teammate Invited", T0 + timedelta(hours=2)))
    assert _fire_due(run) == []


def test_overdue_messages_without_a_deadline_are_an_error(tmp_path: Path) -> None:
    with pytest.raises(RulesetError) as info:
        ruleset_from(tmp_path, PLAYBOOK.replace("    due: 2d\n", ""))
    [problem] = info.value.problems
    assert problem.field == "milestones[1]" and "overdue messages need a deadline: add due" in problem.message
