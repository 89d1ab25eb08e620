"""Re-entry: what happens when a user does it all again, comes back, or changes role."""

from __future__ import annotations

from pathlib import Path

from nudgeflow.orchestrator.simulate import simulate
from nudgeflow.rules import load_ruleset
from nudgeflow.rules.contracts.deliveries import DeliveryRequest
from nudgeflow.rules.decisions import ArmTimer, MilestoneCompleted
from tests.support.rules import at, identify, ruleset_from, track

LADDERS = """\
id: admin
name: Admin
audience: {role: admin}
milestones:
  - id: connect
    title: Connect
    when: {event: Data Source Connected}
    celebrate: [{channel: in_app, title: "Connected", body: "b"}]
  - id: invite
    title: Invite
    when: {event: Teammate Invited}
stalls:
  - milestone: invite
    of: connect
    not_within: 1d
    nudges: [{channel: in_app, title: "Invite someone", body: "b"}]
"""
OPERATOR = """\
id: operator
name: Operator
audience: {role: operator}
milestones:
  - id: dashboard
    title: Dashboard
    when: {event: Data Source Connected}
    celebrate: [{channel: in_app, title: "Dashboard ready", body: "b"}]
"""


def test_a_returning_user_is_celebrated_and_nudged_once_per_milestone(tmp_path: Path) -> None:
    ruleset = ruleset_from(tmp_path, LADDERS)
    events = [
        identify(at(), role="admin"),
        track("Data Source Connected", at(minutes=1)),
        identify(at(days=10), role="admin"),  # comes back weeks later, identified again
        track("Data Source Connected", at(days=10, minutes=1)),  # connects another source
        track("Data Source Connected", at(days=11)),
    ]
    report = simulate(ruleset, events)
    decisions = [d for _, d in report.decisions]
    assert [d.milestone_id for d in decisions if isinstance(d, MilestoneCompleted)] == ["connect"]
    assert [d.title for d in decisions if isinstance(d, DeliveryRequest)] == ["Connected", "Invite someone"]
    assert len([d for d in decisions if isinstance(d, ArmTimer)]) == 1, "the stall clock starts once"


def test_a_user_who_changes_role_enters_the_new_ladder_and_keeps_the_old_progress(tmp_path: Path) -> None:
    (tmp_path / "operator.yaml").write_text(OPERATOR)
    both = ruleset_from(tmp_path, LADDERS, name="admin.yaml") and load_ruleset(tmp_path)
    assert {p.id for p in both.playbooks} == {"admin", "operator"}
    events = [
        identify(at(), role="admin"),
        track("Data Source Connected", at(minutes=1)),
        identify(at(days=1), role="operator"),
        track("Data Source Connected", at(days=1, minutes=1)),
    ]
    report = simulate(both, events)
    done = [(d.playbook_id, d.milestone_id) for _, d in report.decisions if isinstance(d, MilestoneCompleted)]
    assert done == [("admin", "connect"), ("operator", "dashboard")]
    assert report.progress["u1"].completed("admin", "connect") is not None
