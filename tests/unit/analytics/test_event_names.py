"""`nudgeflow events unknown`: rules waiting for events the stream never carries, and stream events
that look like misspellings of the ones the rules wait for."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from nudgeflow.orchestrator.cli import app
from tests.support.analytics import track

PLAYBOOK = """\
id: admins
name: Admins
milestones:
  - id: connect_source
    title: Connect a data source
    when: {event: Data Source Connected}
  - id: invite
    title: Invite a teammate
    when: {event: Teammate Invited}
  - id: sso
    title: Configure SSO
    when: {event: SSO Configured}
"""


def _folder(tmp_path: Path, events: list[dict[str, object]]) -> tuple[Path, Path]:
    rules = tmp_path / "pb.yaml"
    rules.write_text(PLAYBOOK)
    data = tmp_path / "data"
    data.mkdir()
    (data / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    return rules, data


def _run(rules: Path, data: Path, days: int) -> tuple[int, str]:
    result = CliRunner().invoke(
        app,
        ["events", "unknown", "--rules", str(rules), "--from", str(data), "--days", str(days)],
        env={"COLUMNS": "300"},
    )
    return result.exit_code, result.output


def test_a_misspelled_stream_event_and_a_name_never_seen_are_reported(tmp_path: Path) -> None:
    rules, data = _folder(
        tmp_path,
        [
            track("u1", "m1", 1, "Data Source Conected"),  # the product's tracking plan has the typo
            track("u1", "m2", 2, "Data Source Conected"),
            track("u1", "m3", 3, "Teammate Invited"),
            track("u1", "m4", 4, "Page Viewed"),
            track("u1", "m5", -24 * 30, "SSO Configured"),  # long ago: outside the 7 days looked at
        ],
    )
    code, output = _run(rules, data, days=7)
    assert code == 1
    assert "not seen 'Data Source Connected'" in output and "admins / connect_source" in output
    assert "not seen 'SSO Configured'" in output, "seen a month ago, not in the last 7 days"
    assert "'Data Source Conected' (2 events) of 'Data Source Connected'" in output
    assert "Teammate Invited" not in output and "Page Viewed" not in output


def test_a_stream_that_carries_every_name_is_clean(tmp_path: Path) -> None:
    names = ["Data Source Connected", "Teammate Invited", "SSO Configured"]
    rules, data = _folder(tmp_path, [track("u1", f"m{i}", i, name) for i, name in enumerate(names)])
    code, output = _run(rules, data, days=7)
    assert code == 0 and "every event name the rules wait for was seen" in output
