"""Engine behaviour a CS person would notice: what completes, unlocks and gets celebrated."""

from __future__ import annotations

from pathlib import Path

import pytest

from nudgeflow.rules import Engine, Ruleset, load_ruleset
from nudgeflow.rules.contracts.users import UserProgress
from tests.support.rules import T0, Run, at, identify, ruleset_from, track

LADDER = """\
id: ladder
name: Ladder
audience:
  role: {in: [admin, owner]}
milestones:
  - id: connect
    title: Connect data
    when: {event: Data Source Connected, where: {status: ok}}
    celebrate:
      - channel: in_app
        title: "Connected!"
        body: "{{ user.first_name }}: {{ progress.done }} of {{ progress.total }}, next {{ progress.next }}"
      - {channel: slack, title: "Team news", body: "{{ event.source or 'A data source' }} connected"}
  - id: invite
    title: Invite a teammate
    when: {event: Teammate Invited, after: connect}
  - id: reports
    title: Three reports in a day
    when: {event: Report Created, count: 3, within: 24h}
    unlocks: [share]
  - id: share
    title: Share a report
    when: {event: Report Shared}
"""

OPEN = """\
id: everyone
name: For everyone
milestones:
  - id: first_login
    title: First login
    when: {event: Logged In}
"""


@pytest.fixture
def ladder(tmp_path: Path) -> Ruleset:
    return ruleset_from(tmp_path, LADDER)


def admin(ruleset: Ruleset) -> Run:
    run = Run(ruleset)
    run.send(identify(role="admin", first_name="Ada"))
    return run


def test_audience_decides_who_enters(ladder: Ruleset) -> None:
    run = Run(ladder)
    run.send(identify(role="operator"))
    assert run.progress.playbooks == {}
    run.send(identify(at(minutes=1), role="owner"))
    entry = run.progress.playbooks["ladder"]
    assert entry.playbook_version == ladder.version and entry.entered_at == at(minutes=1)
    assert entry.milestones["connect"].unlocked_at == at(minutes=1)


def test_completion_celebrates_with_rendered_progress(ladder: Ruleset) -> None:
    run = admin(ladder)
    decisions = run.send(track("Data Source Connected", at(hours=1), status="ok", source="Snowflake"))
    kinds = [d.type for d in decisions]
    assert kinds == ["milestone_completed", "milestone_unlocked", "delivery", "delivery"]
    done, unlocked, in_app, slack = decisions
    assert (done.milestone_id, done.done, done.total, done.completed_at) == ("connect", 1, 4, at(hours=1))
    assert done.since_entry_seconds == 3600 and done.first_value is False
    assert (unlocked.milestone_id, unlocked.unlocked_by) == ("invite", "connect")
    assert in_app.body == "Ada: 1 of 4, next Invite a teammate"
    assert (in_app.kind, in_app.step, in_app.channel, in_app.playbook_version) == (
        "celebration",
        0,
        "in_app",
        ladder.version,
    )
    assert slack.body == "Snowflake connected"
    assert in_app.delivery_id != slack.delivery_id


def test_where_filters_events(ladder: Ruleset) -> None:
    run = admin(ladder)
    assert run.send(track("Data Source Connected", status="failed")) == []


def test_celebrated_once_per_user_ever(ladder: Ruleset) -> None:
    run = admin(ladder)
    run.send(track("Data Source Connected", status="ok"))
    again = run.send(track("Data Source Connected", at(days=3), status="ok"))
    assert again == []
    assert len(run.of_type("delivery")) == 2


def test_same_event_twice_gives_same_delivery_ids(ladder: Ruleset) -> None:
    """Reprocessing after a crash must produce the same idempotency keys."""
    run = admin(ladder)
    event = track("Data Source Connected", status="ok")
    first = run.engine.on_event(run.progress, event, T0).decisions
    second = Engine(ladder).on_event(run.progress, event, T0).decisions
    assert [d.model_dump() for d in first] == [d.model_dump() for d in second]


def test_after_ignores_events_before_the_prerequisite(ladder: Ruleset) -> None:
    run = admin(ladder)
    run.send(track("Teammate Invited", at(minutes=1)))
    run.send(track("Data Source Connected", at(minutes=2), status="ok"))
    assert run.completed() == ["connect"]
    run.send(track("Teammate Invited", at(minutes=3)))
    assert run.completed() == ["connect", "invite"]


def test_late_event_older_than_prerequisite_does_not_count(ladder: Ruleset) -> None:
    run = admin(ladder)
    run.send(track("Data Source Connected", at(hours=2), status="ok"))
    run.send(track("Teammate Invited", at(hours=1)))  # arrives late, happened before
    assert run.completed() == ["connect"]


def test_count_within_window(ladder: Ruleset) -> None:
    run = admin(ladder)
    run.send(track("Report Created", at(hours=0)))
    run.send(track("Report Created", at(hours=10)))
    run.send(track("Report Created", at(hours=30)))  # first one is now out of the 24h window
    assert "reports" not in run.completed()
    run.send(track("Report Created", at(hours=33)))
    assert run.completed() == ["reports"]
    assert run.of_type("milestone_completed")[0].completed_at == at(hours=33)


def test_count_within_window_with_out_of_order_events(ladder: Ruleset) -> None:
    run = admin(ladder)
    for hours in (5, 1, 3):
        run.send(track("Report Created", at(hours=hours)))
    assert run.completed() == ["reports"]


def test_explicit_unlocks_replace_the_default_next(ladder: Ruleset) -> None:
    run = admin(ladder)
    for hours in (1, 2, 3):
        run.send(track("Report Created", at(hours=hours)))
    unlocked = [(d.milestone_id, d.unlocked_by) for d in run.of_type("milestone_unlocked")]
    assert unlocked == [("share", "reports")]


def test_milestone_order_is_free_without_after(ladder: Ruleset) -> None:
    run = admin(ladder)
    run.send(track("Report Shared"))
    assert run.completed() == ["share"]
    run.send(track("Data Source Connected", status="ok"))
    assert run.of_type("milestone_completed")[-1].done == 2


def test_events_before_identify_use_empty_traits(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(LADDER)
    (tmp_path / "b.yaml").write_text(OPEN)
    run = Run(load_ruleset(tmp_path))
    run.send(track("Logged In"))
    run.send(track("Data Source Connected", status="ok"))
    assert run.completed() == ["first_login"]
    assert set(run.progress.playbooks) == {"everyone"}


def test_identify_merges_traits_and_timezone(ladder: Ruleset) -> None:
    run = Run(ladder)
    run.send(identify(role="admin", plan="pro"))
    run.send(identify(at(minutes=1), timezone="Europe/Paris", first_name="Ada"))
    assert run.progress.traits == {"role": "admin", "plan": "pro", "first_name": "Ada"}
    assert run.progress.timezone == "Europe/Paris"
    run.send(identify(at(minutes=2), **{"traits_tz": 1}))
    assert run.progress.timezone == "Europe/Paris"  # kept when the next call has none


def test_timezone_trait_is_used_and_invalid_zones_ignored(ladder: Ruleset) -> None:
    run = Run(ladder)
    for zone, expected in (("Asia/Tokyo", "Asia/Tokyo"), ("Mars/Olympus", "Asia/Tokyo")):
        event = identify().model_copy(update={"traits": {"timezone": zone}})
        run.send(event)
        assert run.progress.timezone == expected


def test_engine_never_mutates_its_input(ladder: Ruleset) -> None:
    run = admin(ladder)
    before = run.progress.model_dump()
    run.engine.on_event(run.progress, track("Data Source Connected", status="ok"), T0)
    assert run.progress.model_dump() == before


def test_matching_is_indexed_by_event_name(ladder: Ruleset) -> None:
    engine = Engine(ladder)
    assert set(engine.by_event) == {"Data Source Connected", "Teammate Invited", "Report Created", "Report Shared"}
    assert [m.id for _, m in engine.by_event["Report Created"]] == ["reports"]
    run = admin(ladder)
    assert run.send(track("Unrelated Event")) == []


def test_broken_template_at_send_time_is_suppressed_not_sent(tmp_path: Path) -> None:
    text = OPEN + '    celebrate: [{channel: in_app, title: "x", body: "{{ 100 / event.zero }}"}]\n'
    run = Run(ruleset_from(tmp_path, text))
    [_, suppressed] = run.send(track("Logged In", zero=0))
    assert suppressed.type == "delivery_suppressed" and suppressed.reason == "template_error"


def test_empty_ruleset_does_nothing() -> None:
    result = Engine(Ruleset.empty()).on_event(UserProgress.new("u1"), track("Logged In"), T0)
    assert result.decisions == [] and result.progress.first_seen_at == T0
