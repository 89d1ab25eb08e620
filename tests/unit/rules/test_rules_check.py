from __future__ import annotations

from pathlib import Path

from rich.console import Console

from nudgeflow.rules.check import check_paths, run_check

REPO = Path(__file__).resolve().parents[3]


def console() -> Console:
    return Console(record=True, width=200, color_system=None)


def test_examples_pass_the_check() -> None:
    out = console()
    assert run_check(REPO / "playbooks", out) == 0
    text = out.export_text()
    assert "OK: 3 playbooks" in text and "connect_data_source → invite_teammate" in text


def test_problems_are_printed_in_plain_words_with_exit_code_1(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(
        "id: x\nname: X\nmilestones:\n  - id: a\n    title: A\n    when: {event: E, within: 2 days}\n"
    )
    out = console()
    assert run_check(tmp_path, out) == 1
    text = out.export_text()
    assert f"{tmp_path / 'bad.yaml'}:6  milestones[0].when.within  '2 days' is not a duration" in text
    assert "1 problem found" in text and "Traceback" not in text


def test_unreadable_and_missing_inputs_never_traceback(tmp_path: Path) -> None:
    (tmp_path / "bin.yaml").write_bytes(b"\xff\xfe\x00garbage")
    out = console()
    assert run_check(tmp_path, out) == 1
    assert "cannot read the file" in out.export_text()
    assert run_check(tmp_path / "missing", out) == 1
    assert "no such file or folder" in out.export_text()


def test_check_paths_sees_duplicates_across_paths(tmp_path: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "pb.yaml").write_text(
            "id: same\nname: S\nmilestones:\n  - {id: m, title: M, when: {event: E}}\n"
        )
    [problem] = check_paths([tmp_path / "a", tmp_path / "b"])
    assert "playbook id 'same' is already used" in problem.message
