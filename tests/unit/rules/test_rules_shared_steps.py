"""Shared steps: a milestone written once in a library and included by several playbooks."""

from __future__ import annotations

from pathlib import Path

import pytest

from nudgeflow.rules import RulesetError, load_ruleset
from tests.support.rules import Run, identify, track

LIBRARY = """\
shared_steps:
  - id: connect_source
    title: Connect a data source
    when: {event: Data Source Connected, where: {status: ok}}
    cta: {label: "Connect a source", url: "https://app.example.com/sources"}
    celebrate:
      - {channel: in_app, title: "Connected", body: "Your data is flowing"}
  - id: invite_teammate
    title: Invite a teammate
    when: {event: Teammate Invited}
"""

ADMIN = """\
id: admins
name: Admins
audience: {role: admin}
milestones:
  - include: connect_source
  - include: invite_teammate
    celebrate:
      - {channel: in_app, title: "Better together", body: "Admins who invite early keep their workspace"}
"""

ANALYST = """\
id: analysts
name: Analysts
audience: {role: analyst}
milestones:
  - include: connect_source
    title: Connect the warehouse you analyse
  - id: first_report
    title: First report
    when: {event: Report Created}
"""


def _rules(tmp_path: Path, **files: str) -> Path:
    folder = tmp_path / "rules"
    (folder / "shared").mkdir(parents=True)
    (folder / "shared" / "steps.yaml").write_text(LIBRARY)
    for name, text in files.items():
        (folder / f"{name}.yaml").write_text(text)
    return folder


def test_playbooks_include_shared_steps_and_override_fields(tmp_path: Path) -> None:
    ruleset = load_ruleset(_rules(tmp_path, admin=ADMIN, analyst=ANALYST))
    admins, analysts = ruleset.playbook("admins"), ruleset.playbook("analysts")
    assert admins is not None and analysts is not None
    assert [m.id for m in admins.milestones] == ["connect_source", "invite_teammate"]
    assert admins.milestones[0].cta is not None and admins.milestones[0].when.where["status"].equals == "ok"
    assert admins.milestones[1].celebrate[0].title == "Better together", "a field beside include replaces the step's"
    assert analysts.milestones[0].title == "Connect the warehouse you analyse"
    assert analysts.milestones[0].celebrate[0].title == "Connected", "the rest is the shared step's"
    run = Run(ruleset)
    run.send(identify(role="admin"))
    run.send(track("Data Source Connected", status="ok"))
    assert run.completed() == ["connect_source"]


def test_an_unknown_include_names_the_line_and_suggests_the_step(tmp_path: Path) -> None:
    with pytest.raises(RulesetError) as info:
        load_ruleset(_rules(tmp_path, admin=ADMIN.replace("include: invite_teammate", "include: invite_teamate")))
    [problem] = info.value.problems
    assert (Path(problem.file).name, problem.line, problem.field) == ("admin.yaml", 6, "milestones[1].include")
    assert "no shared step 'invite_teamate' (did you mean 'invite_teammate'?)" in problem.message


def test_a_step_defined_twice_names_both_places(tmp_path: Path) -> None:
    folder = _rules(tmp_path, admin=ADMIN)
    again = "shared_steps:\n  - id: connect_source\n    title: Again\n    when: {event: X}\n"
    (folder / "more_steps.yml").write_text(again)
    with pytest.raises(RulesetError) as info:
        load_ruleset(folder)
    [problem] = info.value.problems
    assert (Path(problem.file).name, problem.line, problem.field) == ("steps.yaml", 2, "shared_steps[0].id")
    assert f"shared step 'connect_source' is already defined at {folder / 'more_steps.yml'}:2" in problem.message


def test_a_mistake_in_an_included_step_points_at_the_include(tmp_path: Path) -> None:
    folder = _rules(tmp_path, admin=ADMIN)
    (folder / "shared" / "steps.yaml").write_text(LIBRARY.replace("    title: Invite a teammate\n", ""))
    with pytest.raises(RulesetError) as info:
        load_ruleset(folder)
    [problem] = info.value.problems
    assert (Path(problem.file).name, problem.line) == ("admin.yaml", 6)
    assert problem.field == "milestones[1].title" and "required field 'title' is missing" in problem.message
