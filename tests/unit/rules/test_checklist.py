"""The checklist a user sees: steps in ladder order, what is done, next, locked and overdue, and the
next step's button rendered for this user."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from nudgeflow.rules import RulesetError
from nudgeflow.rules.checklist import checklist
from tests.support.rules import T0, Run, identify, ruleset_from, track

PLAYBOOK = """\
id: admin
name: Admin onboarding
audience: {role: admin}
milestones:
  - id: connect
    title: Connect a data source
    when: {event: Data Source Connected}
    cta: {label: "Connect {{ user.first_name }}'s data", url: "https://app.example.com/{{ user.workspace }}/sources"}
  - id: invite
    title: Invite a teammate
    when: {event: Teammate Invited, after: connect}
    cta: {label: Invite, url: "https://app.example.com/team"}
  - id: dashboard
    title: Build a dashboard
    when: {event: Dashboard Created}
stalls:
  - milestone: invite
    of: connect
    not_within: 1d
    nudges:
      - {channel: in_app, title: "Invite someone", body: "nudge"}
"""


@pytest.fixture
def run(tmp_path: Path) -> Run:
    run = Run(ruleset_from(tmp_path, PLAYBOOK))
    run.send(identify(T0, role="admin", first_name="Ana", workspace="acme"))
    return run


def test_a_new_user_sees_the_first_step_next_with_its_button_and_the_gated_one_locked(run: Run) -> None:
    [playbook] = checklist(run.engine.ruleset, run.progress, T0).playbooks
    assert (playbook.playbook_id, playbook.done, playbook.total, playbook.percent) == ("admin", 0, 3, 0)
    assert [(s.milestone_id, s.state) for s in playbook.steps] == [
        ("connect", "next"),
        ("invite", "locked"),
        ("dashboard", "todo"),
    ]
    connect, invite, _ = playbook.steps
    assert connect.cta is not None
    assert (connect.cta.label, connect.cta.url) == ("Connect Ana's data", "https://app.example.com/acme/sources")
    assert invite.locked_by == "connect" and playbook.next_milestone_id == "connect"


def test_progress_moves_the_next_step_and_a_stalled_step_turns_overdue(run: Run) -> None:
    run.send(track("Data Source Connected", T0 + timedelta(hours=1)))
    before_due = checklist(run.engine.ruleset, run.progress, T0 + timedelta(hours=2)).playbooks[0]
    connect, invite, dashboard = before_due.steps
    assert (connect.state, connect.completed_at, connect.cta) == ("done", T0 + timedelta(hours=1), None)
    assert (invite.state, invite.due_at, invite.overdue) == ("next", T0 + timedelta(days=1, hours=1), False)
    assert (before_due.done, before_due.percent, before_due.next_milestone_id) == (1, 33, "invite")
    later = checklist(run.engine.ruleset, run.progress, T0 + timedelta(days=2)).playbooks[0]
    assert later.steps[1].overdue and dashboard.state == "todo"
    run.send(track("Teammate Invited", T0 + timedelta(days=2)))
    done = checklist(run.engine.ruleset, run.progress, T0 + timedelta(days=2)).playbooks[0]
    assert [s.state for s in done.steps] == ["done", "done", "next"] and not done.steps[1].overdue


def test_a_button_whose_trait_is_missing_is_left_off_not_shown_broken(tmp_path: Path) -> None:
    run = Run(ruleset_from(tmp_path, PLAYBOOK))
    run.send(identify(T0, role="admin"))  # no first_name, no workspace
    connect = checklist(run.engine.ruleset, run.progress, T0).playbooks[0].steps[0]
    assert connect.state == "next" and connect.cta is None


def test_users_outside_the_audience_have_no_checklist(tmp_path: Path) -> None:
    run = Run(ruleset_from(tmp_path, PLAYBOOK))
    run.send(identify(T0, role="viewer"))
    assert checklist(run.engine.ruleset, run.progress, T0).playbooks == []


def test_a_step_button_with_a_bad_url_is_rejected_with_its_line(tmp_path: Path) -> None:
    broken = PLAYBOOK.replace('url: "https://app.example.com/team"', 'url: "javascript:alert(1)"')
    with pytest.raises(RulesetError) as raised:
        ruleset_from(tmp_path, broken)
    assert "milestones[1].cta.url" in str(raised.value) and "pb.yaml:" in str(raised.value)
