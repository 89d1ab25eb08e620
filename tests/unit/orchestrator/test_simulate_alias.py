"""Segment `alias` through the worker's pipeline step (simulate): the previous id hands what it knows
to the new id (traits it lacks, held events, milestones done) and forwards its later events there."""

from __future__ import annotations

from datetime import datetime
from itertools import count
from pathlib import Path

from nudgeflow.orchestrator.simulate import SimulationReport, simulate
from nudgeflow.rules.contracts.events import AliasEvent
from tests.support.rules import at, identify, ruleset_from, track

PLAYBOOK = """\
id: admins
name: Admins
audience: {role: admin}
milestones:
  - id: first_report
    title: Create a report
    when: {event: Report Created}
    celebrate:
      - {channel: in_app, title: "First report", body: "Well done"}
  - id: invite
    title: Invite a teammate
    when: {event: Teammate Invited}
    celebrate:
      - {channel: in_app, title: "Team!", body: "Well done"}
stalls:
  - milestone: invite
    of: first_report
    not_within: 1d
    nudges:
      - {channel: in_app, title: "Invite someone", body: "Better together"}
"""
_ids = count()


def alias(previous: str, user: str, when: datetime) -> AliasEvent:
    return AliasEvent(type="alias", previousId=previous, userId=user, messageId=f"a{next(_ids)}", timestamp=when)


def _run(tmp_path: Path, events: list[object]) -> SimulationReport:
    return simulate(ruleset_from(tmp_path, PLAYBOOK), events, until=at(days=5))  # type: ignore[arg-type]


def _sent(report: SimulationReport, user: str) -> list[str]:
    return [r.title for _, r in report.sent if r.user_id == user]


def test_what_an_anonymous_id_did_counts_for_the_user_it_becomes(tmp_path: Path) -> None:
    events = [
        track("Report Created", at(minutes=1), user="anon-7"),  # no role yet: held
        alias("anon-7", "ana", at(minutes=2)),
        identify(at(minutes=3), user="ana", role="admin"),
    ]
    report = _run(tmp_path, events)
    assert [d.milestone_id for d in report.of_type("milestone_completed") if d.user_id == "ana"] == ["first_report"]
    assert _sent(report, "ana")[0] == "First report"
    assert report.records["anon-7"].merged_into == "ana"


def test_a_milestone_done_under_the_old_id_is_done_not_celebrated_again_and_its_stall_moves(tmp_path: Path) -> None:
    events = [
        identify(user="old", role="admin", first_name="Ana"),
        track("Report Created", at(minutes=1), user="old"),
        identify(at(minutes=5), user="ana", role="admin", first_name="Anna", email="ana@example.com"),
        alias("old", "ana", at(minutes=10)),
        track("Teammate Invited", at(hours=2), user="old"),  # a late event under the old id
    ]
    report = _run(tmp_path, events)
    assert _sent(report, "old") == ["First report"], "no stall nudge to the old id after the alias"
    assert _sent(report, "ana") == ["Team!"], "done under the old id: not celebrated twice; the late event counts"
    ana = report.records["ana"].progress
    assert ana.completed("admins", "first_report") == at(minutes=1)
    assert ana.traits["first_name"] == "Anna", "the new id keeps its own traits"


def test_an_alias_applied_twice_and_an_alias_cycle_change_nothing_more(tmp_path: Path) -> None:
    first = alias("old", "ana", at(minutes=1))
    events = [
        identify(user="old", role="admin"),
        track("Report Created", at(seconds=30), user="old"),
        identify(user="ana", role="admin"),
        first,
        first,
        alias("ana", "old", at(minutes=2)),  # back again: no event may bounce between the two for ever
        track("Teammate Invited", at(minutes=3), user="old"),
    ]
    report = _run(tmp_path, events)
    assert report.duplicates_skipped == 1
    assert report.records["old"].merged_into is None and report.records["ana"].merged_into == "old"
    assert _sent(report, "old") == ["First report", "Team!"]


def test_a_chain_of_aliases_ends_at_the_last_id(tmp_path: Path) -> None:
    events = [
        track("Report Created", at(minutes=1), user="anon-1"),
        alias("ana-old", "ana", at(minutes=2)),  # ana-old is ana now
        alias("anon-1", "ana-old", at(minutes=3)),  # anon-1 was ana-old: it all ends at ana
        identify(at(minutes=4), user="ana", role="admin"),
    ]
    report = _run(tmp_path, events)
    assert _sent(report, "ana")[:1] == ["First report"] and _sent(report, "ana-old") == []
