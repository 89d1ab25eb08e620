"""Account-level milestones through the worker's pipeline step (simulate): members' signals reach
the account, the account's notices complete the milestone for every member."""

from __future__ import annotations

from pathlib import Path

import pytest

from nudgeflow.orchestrator.simulate import simulate
from nudgeflow.rules import RulesetError
from nudgeflow.rules.checklist import checklist
from tests.support.rules import at, identify, ruleset_from, track

PLAYBOOK = """\
id: team
name: Team onboarding
audience: {{role: admin}}
milestones:
  - id: connect_source
    title: Connect a data source
    when: {{event: Data Source Connected}}
  - id: invite
    title: Any admin invited a teammate
    when: {{event: Teammate Invited}}
    account: {{members: {members}}}
    celebrate:
      - {{channel: in_app, title: "Your team grew", body: "Someone on {{{{ user.account.name }}}} invited a teammate"}}
      - {{channel: slack, to: "#cs-wins", title: "{{{{ user.account.name }}}} invited a teammate", body: "A win"}}
  - id: three_sources
    title: The account connected 3 data sources
    when: {{event: Data Source Connected}}
    account: {{events: 3}}
"""


def _admins(*users: str, account: str = "acme") -> list[object]:
    return [identify(user=u, role="admin", account_id=account, account={"id": account, "name": "Acme"}) for u in users]


def _run(tmp_path: Path, events: list[object], members: str = "any") -> object:
    return simulate(ruleset_from(tmp_path, PLAYBOOK.format(members=members)), events)  # type: ignore[arg-type]


def _completed(report: object, milestone: str) -> list[str]:
    return sorted(d.user_id for d in report.of_type("milestone_completed") if d.milestone_id == milestone)  # type: ignore[attr-defined]


def test_any_member_completing_completes_it_for_every_member_and_the_channel_hears_once(tmp_path: Path) -> None:
    report = _run(tmp_path, [*_admins("ana", "bo", "cy"), track("Teammate Invited", at(hours=1), user="bo")])
    assert _completed(report, "invite") == ["ana", "bo", "cy"]
    sent = [r for _, r in report.sent]  # type: ignore[attr-defined]
    assert sorted(r.user_id for r in sent if r.channel == "in_app") == ["ana", "bo", "cy"]
    [team] = [r for r in sent if r.channel == "slack"]
    assert team.user_id == "bo", "the member whose action reached it announces it, once per account"
    assert team.title == "Acme invited a teammate"


def test_another_account_does_not_complete(tmp_path: Path) -> None:
    events = [*_admins("ana"), *_admins("zed", account="globex"), track("Teammate Invited", at(hours=1), user="ana")]
    assert _completed(_run(tmp_path, events), "invite") == ["ana"]


def test_all_members_must_complete_and_a_number_counts_distinct_members(tmp_path: Path) -> None:
    events = [*_admins("ana", "bo", "cy"), track("Teammate Invited", at(hours=1), user="ana")]
    events += [track("Teammate Invited", at(hours=2), user="ana"), track("Teammate Invited", at(hours=3), user="bo")]
    assert _completed(_run(tmp_path, events, members="all"), "invite") == []
    assert _completed(_run(tmp_path, events, members="2"), "invite") == ["ana", "bo", "cy"]
    events.append(track("Teammate Invited", at(hours=4), user="cy"))
    report = _run(tmp_path, events, members="all")
    assert _completed(report, "invite") == ["ana", "bo", "cy"]
    assert {d.completed_at for d in report.of_type("milestone_completed") if d.milestone_id == "invite"} == {
        at(hours=4)
    }, "reached when the last member did it"


def test_events_across_the_account_count_once_each_and_reach_it_at_the_third(tmp_path: Path) -> None:
    first = track("Data Source Connected", at(hours=1), user="ana")
    events = [*_admins("ana", "bo"), first, first, track("Data Source Connected", at(hours=2), user="bo")]
    assert _completed(_run(tmp_path, events), "three_sources") == [], "a repeated messageId counts once"
    events.append(track("Data Source Connected", at(hours=3), user="ana"))
    report = _run(tmp_path, events)
    assert _completed(report, "three_sources") == ["ana", "bo"]
    assert report.accounts["acme"].milestones["team/three_sources"].reached_by == "ana"  # type: ignore[attr-defined]


def test_a_member_who_joins_later_completes_it_without_the_channel_hearing_again(tmp_path: Path) -> None:
    events = [*_admins("ana"), track("Teammate Invited", at(hours=1), user="ana")]
    events += [identify(at(hours=5), user="dee", role="admin"), identify(at(hours=6), user="dee", account_id="acme")]
    report = _run(tmp_path, events)
    assert _completed(report, "invite") == ["ana", "dee"]
    assert [r.user_id for _, r in report.sent if r.channel == "slack"] == ["ana"]  # type: ignore[attr-defined]


def test_a_member_who_did_it_before_joining_the_account_counts_when_the_group_call_arrives(tmp_path: Path) -> None:
    events = [
        identify(user="ana", role="admin"),
        track("Teammate Invited", at(hours=1), user="ana"),
        identify(at(hours=2), user="ana", account_id="acme"),
    ]
    report = _run(tmp_path, events)
    assert _completed(report, "invite") == ["ana"]
    assert report.of_type("milestone_completed")[-1].completed_at == at(hours=1)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        ("{members: some}", "not a member count"),
        ("{members: 0}", "write any, all or a number"),
        ("{members: any, events: 2}", "not both"),
        ("{}", "give either members"),
    ],
)
def test_a_wrong_account_rule_names_line_and_field(tmp_path: Path, rule: str, words: str) -> None:
    text = PLAYBOOK.format(members="any").replace("account: {events: 3}", f"account: {rule}")
    with pytest.raises(RulesetError) as info:
        ruleset_from(tmp_path, text)
    [problem] = info.value.problems
    assert problem.line == 18 and problem.field.startswith("milestones[2].account") and words in problem.message


def test_account_events_with_a_per_member_count_is_rejected_with_the_total_to_write(tmp_path: Path) -> None:
    text = PLAYBOOK.format(members="any").replace(
        "when: {event: Data Source Connected}\n    account: {events: 3}",
        "when: {event: Data Source Connected, count: 2}\n    account: {events: 3}",
    )
    with pytest.raises(RulesetError) as info:
        ruleset_from(tmp_path, text)
    assert "write events: 6" in info.value.problems[0].message


def test_the_checklist_shows_a_team_step_and_that_the_user_did_their_part(tmp_path: Path) -> None:
    ruleset = ruleset_from(tmp_path, PLAYBOOK.format(members="2"))
    report = simulate(ruleset, [*_admins("ana", "bo"), track("Teammate Invited", at(hours=1), user="ana")])
    [playbook] = checklist(ruleset, report.records["ana"].progress, at(hours=2)).playbooks
    step = next(s for s in playbook.steps if s.milestone_id == "invite")
    assert (step.account_step, step.state, step.your_part_done_at) == (True, "todo", at(hours=1))
    [bo_playbook] = checklist(ruleset, report.records["bo"].progress, at(hours=2)).playbooks
    assert next(s for s in bo_playbook.steps if s.milestone_id == "invite").your_part_done_at is None
