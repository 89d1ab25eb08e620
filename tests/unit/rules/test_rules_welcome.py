"""`on_enter`: a welcome sent once when a user enters a playbook, pointing at its first step."""

from __future__ import annotations

from pathlib import Path

import pytest

from nudgeflow.rules import RulesetError
from tests.support.rules import Run, identify, ruleset_from, track

PLAYBOOK = """\
id: admins
name: Admin onboarding
audience: {role: admin}
on_enter:
  - channel: in_app
    title: "Welcome, {{ user.first_name }}"
    body: "First step: {{ milestone.title }}"
    cta: {label: "{{ milestone.title }}", url: "https://app.example.com/sources/new"}
milestones:
  - id: connect_source
    title: Connect a data source
    when: {event: Data Source Connected}
"""


def test_a_user_entering_the_playbook_is_welcomed_once_with_its_first_step(tmp_path: Path) -> None:
    run = Run(ruleset_from(tmp_path, PLAYBOOK))
    assert run.send(identify(first_name="Ada")) == [], "not in the audience yet: no welcome"
    [welcome] = [d for d in run.send(identify(role="admin")) if d.type == "delivery"]
    assert (welcome.kind, welcome.title) == ("welcome", "Welcome, Ada")
    assert welcome.body == "First step: Connect a data source"
    assert welcome.cta.label == "Connect a data source" and welcome.milestone_id == "connect_source"
    later = run.send(identify(role="admin", plan="pro")) + run.send(track("Data Source Connected"))
    assert not [d for d in later if d.type == "delivery" and d.kind == "welcome"], "entering happens once"


def test_a_template_mistake_in_a_welcome_names_file_line_and_field(tmp_path: Path) -> None:
    with pytest.raises(RulesetError) as info:
        ruleset_from(tmp_path, PLAYBOOK.replace('{{ milestone.title }}"\n', '{{ milestone.titel | upper( }}"\n', 1))
    [problem] = info.value.problems
    assert (problem.line, problem.field) == (7, "on_enter[0].body")
