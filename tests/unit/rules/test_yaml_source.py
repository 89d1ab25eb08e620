"""The YAML reader CS teams' playbooks go through: values as they wrote them, and the line of every field."""

from __future__ import annotations

import pytest
import yaml

from nudgeflow.rules.yamlsource import read_documents


def test_scalars_follow_yaml_1_2_so_words_and_clock_times_stay_text() -> None:
    text = (
        "quiet: {start: 21:00, end: 07:00}\n"
        "answers: [on, no, yes, off, true, False]\n"
        "numbers: [7, -3, 1_000, 2.5, .inf, 0x1F]\n"
        "empty: [~, null, '', ]\n"
        "forced: [!!str 5, !!int '12', !!float '3', !!bool 'true', !!null '']\n"
        "day: 2026-11-29\n"
    )
    (doc,), problems = read_documents(text, "p.yaml")
    assert problems == []
    assert doc.data == {
        "quiet": {"start": "21:00", "end": "07:00"},
        "answers": ["on", "no", "yes", "off", True, False],
        "numbers": [7, -3, 1000, 2.5, float("inf"), "0x1F"],
        "empty": [None, None, ""],
        "forced": ["5", 12, 3.0, True, None],
        "day": "2026-11-29",
    }


def test_every_field_and_list_item_knows_its_line_and_block_texts_are_marked() -> None:
    text = "id: p\nmilestones:\n  - id: a\n    celebrate:\n      - body: |\n          Well done\n  - id: b\n"
    (doc,), _ = read_documents(text, "p.yaml")
    assert doc.line_of(("id",)) == 1
    assert doc.line_of(("milestones", 0)) == 3
    assert doc.line_of(("milestones", 0, "celebrate", 0, "body")) == 5
    assert doc.line_of(("milestones", 1, "id")) == 7
    assert doc.line_of(("milestones", 1, "title")) == 7  # not written: the line of its step
    assert doc.block_scalars == {("milestones", 0, "celebrate", 0, "body")}


def test_the_same_value_as_pyyaml_safe_load_on_a_realistic_playbook() -> None:
    text = (
        "id: admins\nname: Admins\naudience: {role: admin}\n"
        "milestones:\n"
        "  - &step {id: connect, title: 'Connect a source', when: {event: Source Connected, count: 2}}\n"
        '  - id: invite\n    title: "Invite"\n    after: [connect]\n    celebrate:\n'
        "      - {channel: slack, title: Nice, body: '{{ traits.name }} invited', to: '#cs-wins'}\n"
        "stalls:\n  - {after: connect, not_within: 2d, nudges: [{channel: email, title: T, body: B}]}\n"
        "copy: *step\n"
        "---\nshared_steps: [{id: s, title: S}]\n"
    )
    docs, problems = read_documents(text, "p.yaml")
    assert problems == []
    assert [d.data for d in docs] == list(yaml.safe_load_all(text))


def test_duplicate_fields_are_reported_with_their_line_and_the_last_value_kept() -> None:
    (doc,), problems = read_documents("id: a\nname: x\nid: b\n", "p.yaml")
    assert doc.data["id"] == "b"
    assert [(p.line, p.field) for p in problems] == [(3, "id")]
    assert "written twice" in problems[0].message


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("a: !!python/object:os.system {}\n", "tag:yaml.org,2002:python/object:os.system is not supported"),
        ("a: !custom 5\n", "!custom is not supported"),
        ("a: *nowhere\n", "alias *nowhere has no anchor"),
        ("a: &x [*x]\n", "used inside its own anchor"),
        ("? [a, b]\n: c\n", "field name must be plain text"),
        ("a: &k x\n*k : y\n", "field name must be plain text"),
        ("a: [1, 2\n", "not valid YAML"),
    ],
)
def test_what_a_playbook_may_not_contain_is_one_problem_with_its_line(text: str, says: str) -> None:
    docs, problems = read_documents(text, "p.yaml")
    assert docs == []
    assert len(problems) == 1 and says in problems[0].message
    assert problems[0].file == "p.yaml" and problems[0].line >= 1
