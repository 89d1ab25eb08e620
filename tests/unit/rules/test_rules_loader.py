"""Loader errors must name the file, the line and the field, in plain words."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from nudgeflow.rules import RulesetError, load_ruleset
from nudgeflow.rules.durations import parse_duration

REPO = Path(__file__).resolve().parents[3]

GOOD = """\
id: demo
name: Demo
milestones:
  - id: first
    title: First
    when:
      event: Thing Done
      within: 7d
  - id: second
    title: Second
    when:
      event: Other Thing
      after: first
    celebrate:
      - channel: in_app
        title: "Well done {{ user.first_name }}"
        body: "{{ progress.done }} of {{ progress.total }}"
"""


def problems(tmp_path: Path, text: str, name: str = "pb.yaml") -> list:
    (tmp_path / name).write_text(textwrap.dedent(text))
    with pytest.raises(RulesetError) as info:
        load_ruleset(tmp_path / name)
    return info.value.problems


def only(tmp_path: Path, text: str) -> object:
    found = problems(tmp_path, text)
    assert len(found) == 1, found
    return found[0]


def test_example_playbooks_load() -> None:
    ruleset = load_ruleset(REPO / "playbooks")
    assert {p.id for p in ruleset.playbooks} == {"admin_onboarding", "power_user_onboarding", "operator_onboarding"}
    for playbook in ruleset.playbooks:
        assert len(playbook.milestones) >= 3
        assert all(m.purpose and m.expected_actions and m.risks and m.success_criteria for m in playbook.milestones)
        assert playbook.audience["role"].equals in {"admin", "power_user", "operator"}


def test_good_file_loads_with_version_and_sources(tmp_path: Path) -> None:
    (tmp_path / "pb.yaml").write_text(GOOD)
    ruleset = load_ruleset(tmp_path / "pb.yaml")
    assert [m.id for m in ruleset.playbooks[0].milestones] == ["first", "second"]
    assert ruleset.playbooks[0].milestones[0].when.within == parse_duration("7d")
    assert ruleset.sources == (str(tmp_path / "pb.yaml"),) and len(ruleset.version) == 12
    assert load_ruleset(tmp_path / "pb.yaml").version == ruleset.version
    (tmp_path / "pb.yaml").write_text(GOOD.replace("7d", "8d"))
    assert load_ruleset(tmp_path / "pb.yaml").version != ruleset.version


def test_folder_loads_yaml_and_yml_and_ignores_other_files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD)
    (tmp_path / "b.yml").write_text(GOOD.replace("id: demo", "id: demo2"))
    (tmp_path / "notes.txt").write_text("not yaml: [")
    assert [p.id for p in load_ruleset(tmp_path).playbooks] == ["demo", "demo2"]


def test_unknown_field_with_suggestion(tmp_path: Path) -> None:
    problem = only(tmp_path, GOOD.replace("    celebrate:", "    celebrat:"))
    where = (problem.file, problem.line, problem.field)
    assert where == (str(tmp_path / "pb.yaml"), 14, "milestones[1].celebrat")
    assert problem.message == "unknown field 'celebrat' (did you mean 'celebrate'?)"


def test_unknown_operator_in_where(tmp_path: Path) -> None:
    problem = only(tmp_path, GOOD.replace("      within: 7d", "      where:\n        rows: {gtt: 1}"))
    assert problem.line == 9 and problem.field == "milestones[0].when.where.rows.gtt"
    assert "did you mean 'gt'" in problem.message


def test_bad_duration(tmp_path: Path) -> None:
    problem = only(tmp_path, GOOD.replace("within: 7d", "within: 2 days"))
    assert (problem.line, problem.field) == (8, "milestones[0].when.within")
    assert problem.message.startswith("'2 days' is not a duration: use a number and a unit like 48h or 7d")


def test_unknown_milestone_reference(tmp_path: Path) -> None:
    problem = only(tmp_path, GOOD.replace("after: first", "after: frist"))
    assert (problem.line, problem.field) == (13, "milestones[1].when.after")
    assert problem.message == "unknown milestone 'frist' (did you mean 'first'?)"


def test_unknown_references_in_unlocks_first_value_and_stalls(tmp_path: Path) -> None:
    text = GOOD.replace("milestones:", "first_value: nope\nmilestones:") + textwrap.dedent("""\
        stalls:
          - milestone: secnd
            of: first
            not_within: 2d
            nudges: [{channel: email, title: t, body: b}]
        """)
    text = text.replace("      within: 7d", "      within: 7d\n    unlocks: [third]")
    fields = {p.field: p.message for p in problems(tmp_path, text)}
    assert set(fields) == {"first_value", "milestones[0].unlocks[0]", "stalls[0].milestone"}
    assert "did you mean 'second'" in fields["stalls[0].milestone"]


def test_template_syntax_error_points_at_the_line_inside_a_block(tmp_path: Path) -> None:
    text = GOOD.replace(
        '        body: "{{ progress.done }} of {{ progress.total }}"',
        "        body: |\n          Hello\n          {{ progress.done }\n",
    )
    problem = only(tmp_path, text)
    assert (problem.line, problem.field) == (19, "milestones[1].celebrate[0].body")
    assert "template syntax error" in problem.message


def test_template_with_misspelled_variable(tmp_path: Path) -> None:
    problem = only(tmp_path, GOOD.replace("{{ user.first_name }}", "{{ usr.first_name }}"))
    assert problem.field == "milestones[1].celebrate[0].title" and problem.line == 16
    assert "did you mean 'user'" in problem.message


def test_cycle_in_after_and_unlocks(tmp_path: Path) -> None:
    text = GOOD.replace("      within: 7d", "      within: 7d\n      after: second")
    problem = only(tmp_path, text)
    assert "loop" in problem.message and "first → second → first" in problem.message.replace(
        "second → first → second", "first → second → first"
    )
    assert problem.field in {"milestones[0].when.after", "milestones[1].when.after"}


def test_self_reference_is_a_cycle(tmp_path: Path) -> None:
    problem = only(tmp_path, GOOD.replace("after: first", "after: second"))
    assert problem.field == "milestones[1].when.after" and "loop" in problem.message


def test_bad_yaml_names_the_line(tmp_path: Path) -> None:
    problem = only(tmp_path, GOOD.replace("    title: Second", "    title: Second: the sequel"))
    assert problem.line == 10 and "not valid YAML" in problem.message


def test_duplicate_ids(tmp_path: Path) -> None:
    found = problems(tmp_path, GOOD.replace("  - id: second", "  - id: first").replace("after: first", "after: first"))
    assert any(p.field == "milestones[1].id" and "used twice" in p.message for p in found)
    (tmp_path / "a.yaml").write_text(GOOD)
    (tmp_path / "b.yaml").write_text(GOOD)
    with pytest.raises(RulesetError, match=r"b.yaml:1: id: playbook id 'demo' is already used at .*a.yaml:1"):
        load_ruleset(tmp_path)


def test_every_yaml_file_under_the_folder_loads(tmp_path: Path) -> None:
    """CS teams organise playbooks in subfolders and name them .yml or .YAML: none is skipped silently."""
    (tmp_path / "admins").mkdir()
    (tmp_path / "admins" / "main.yml").write_text(GOOD)
    (tmp_path / "operators" / "eu").mkdir(parents=True)
    (tmp_path / "operators" / "eu" / "OPS.YAML").write_text(GOOD.replace("id: demo", "id: ops"))
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config.yaml").write_text("not: a playbook")
    (tmp_path / "notes.txt").write_text("ignored")
    ruleset = load_ruleset(tmp_path)
    assert sorted(p.id for p in ruleset.playbooks) == ["demo", "ops"]
    assert [Path(s).relative_to(tmp_path).as_posix() for s in ruleset.sources] == [
        "admins/main.yml",
        "operators/eu/OPS.YAML",
    ]


def test_same_id_in_two_subfolders_names_both_places(tmp_path: Path) -> None:
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "playbook.yaml").write_text(GOOD)
    with pytest.raises(RulesetError) as raised:
        load_ruleset(tmp_path)
    [problem] = raised.value.problems
    assert problem.file.endswith("b/playbook.yaml") and problem.field == "id"
    assert "a/playbook.yaml:1" in problem.message


def test_duplicate_key_in_yaml(tmp_path: Path) -> None:
    problem = only(tmp_path, GOOD.replace("    title: First\n", "    title: First\n    title: Again\n"))
    assert problem.line == 6 and "written twice" in problem.message


def test_wrong_types_and_missing_fields_in_plain_words(tmp_path: Path) -> None:
    text = GOOD.replace("channel: in_app", "channel: sms").replace("    title: First\n", "")
    messages = {p.field: p.message for p in problems(tmp_path, text)}
    assert messages["milestones[0].title"] == "required field 'title' is missing"
    assert (
        "'sms' is not allowed here: use one of 'in_app', 'email', 'slack'"
        in messages["milestones[1].celebrate[0].channel"]
    )


def test_unquoted_clock_time_and_yes_no_stay_text(tmp_path: Path) -> None:
    text = GOOD + "timing:\n  quiet_hours: {start: 21:00, end: 08:00}\n"
    ruleset = load_ruleset((tmp_path / "pb.yaml", (tmp_path / "pb.yaml").write_text(text))[0])
    assert ruleset.playbooks[0].timing.quiet_hours.start.hour == 21


def test_error_str_lists_file_line_field_message(tmp_path: Path) -> None:
    (tmp_path / "pb.yaml").write_text(GOOD.replace("within: 7d", "within: soon"))
    with pytest.raises(RulesetError) as info:
        load_ruleset(tmp_path / "pb.yaml")
    assert f"{tmp_path / 'pb.yaml'}:8: milestones[0].when.within: 'soon' is not a duration" in str(info.value)


@pytest.mark.parametrize("text", ["", "just text", "- 1\n- 2", "id: [", "!!python/object:os.system {}"])
def test_nonsense_files_are_problems_not_crashes(tmp_path: Path, text: str) -> None:
    assert problems(tmp_path, text)


def test_missing_path_and_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(RulesetError, match="no such file"):
        load_ruleset(tmp_path / "nope")
    with pytest.raises(RulesetError, match="no .yaml or .yml"):
        load_ruleset(tmp_path)


def test_alias_bombs_and_self_references_are_cheap_problems(tmp_path: Path) -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n"
    for i in range(1, 9):
        bomb += f"b{i}: &b{i} [" + ", ".join([f"*{'a' if i == 1 else f'b{i - 1}'}"] * 9) + "]\n"
    bomb += "id: x\nname: *b8\nmilestones:\n  - {id: m, title: *b8, when: {event: E, within: *b8}}\n"
    found = problems(tmp_path, bomb)
    assert any(p.field == "milestones[0].when.within" and "is not a duration" in p.message for p in found)
    assert all(len(p.message) < 300 for p in found)
    assert problems(tmp_path, "id: &x [*x]\nname: n\nmilestones: &m [*m]\n")
