"""Events sent before the user's role is known count once it is: they are held (bounded) and
replayed into each playbook the user enters."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from nudgeflow.rules import engine as engine_module
from tests.support.rules import T0, Run, identify, ruleset_from, track

PLAYBOOK = """\
id: admins
name: Admins
audience: {role: admin}
milestones:
  - id: connect_source
    title: Connect a data source
    when: {event: Data Source Connected, where: {status: ok}}
    celebrate:
      - {channel: in_app, title: "Connected {{ event.source }}", body: "Well done"}
  - id: invite_teammate
    title: Invite a teammate
    when: {event: Teammate Invited, after: connect_source}
"""


def test_events_before_identify_count_once_the_role_is_known(tmp_path: Path) -> None:
    run = Run(ruleset_from(tmp_path, PLAYBOOK))
    assert run.send(track("Data Source Connected", T0, status="ok", source="Postgres")) == []
    assert run.send(track("Teammate Invited", T0 + timedelta(minutes=5))) == []
    assert run.send(track("Page Viewed", T0 + timedelta(minutes=6))) == [], "noise no rule reads"
    assert [h.event for h in run.progress.held_events] == ["Data Source Connected", "Teammate Invited"]
    decisions = run.send(identify(T0 + timedelta(hours=1), role="admin"))
    assert run.completed() == ["connect_source", "invite_teammate"], "in the order they happened"
    [celebration] = [d for d in decisions if d.type == "delivery"]
    assert celebration.title == "Connected Postgres"
    completed = [d for d in decisions if d.type == "milestone_completed"]
    assert [d.completed_at for d in completed] == [T0, T0 + timedelta(minutes=5)], "at the events' own times"


def test_held_events_are_bounded_by_count_and_age(tmp_path: Path) -> None:
    run = Run(ruleset_from(tmp_path, PLAYBOOK))
    for n in range(engine_module.HELD_EVENTS_MAX + 10):
        run.send(track("Teammate Invited", T0 + timedelta(minutes=n)))
    assert len(run.progress.held_events) == engine_module.HELD_EVENTS_MAX
    run.send(track("Data Source Connected", T0 + timedelta(days=30), status="ok"))
    assert [h.event for h in run.progress.held_events] == ["Data Source Connected"], "older than 7 days: dropped"
