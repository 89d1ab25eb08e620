"""`nudgeflow preview`: a message as each channel would show it, rendered by the worker's own code."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from nudgeflow.orchestrator.cli import app

runner = CliRunner()
REPO_PLAYBOOKS = Path(__file__).resolve().parents[3] / "playbooks"


def _preview(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["preview", *args], env={"COLUMNS": "120"})
    return result.exit_code, " ".join(result.output.replace("│", " ").split())  # error boxes wrap lines


def test_without_a_message_it_lists_every_message_with_its_path() -> None:
    code, output = _preview("--rules", str(REPO_PLAYBOOKS), "admin_onboarding")
    assert code == 0
    assert "milestones[0].celebrate[1] celebration · email" in output
    assert "stalls[0].nudges[1] nudge · email" in output


def test_a_celebration_renders_for_each_channel_from_the_traits_and_event(tmp_path: Path) -> None:
    code, output = _preview(
        "--rules",
        str(REPO_PLAYBOOKS),
        "admin_onboarding",
        "milestones[connect_data_source].celebrate[0]",
        "--trait",
        "locale=de",
        "--prop",
        "source_name=Snowflake",
        "--out",
        str(tmp_path),
    )
    assert code == 0, output
    assert "Ihre Daten fließen" in output and "Snowflake ist verbunden. Schritt 1 von 4 erledigt." in output
    [html] = tmp_path.glob("*.email.html")
    assert "Snowflake ist verbunden" in html.read_text() and 'href="https://app.example.com/settings/members"' in (
        html.read_text()
    )
    [slack] = tmp_path.glob("*.slack.json")
    blocks = json.loads(slack.read_text())["blocks"]
    buttons = [e for b in blocks if b["type"] == "actions" for e in b["elements"]]
    assert [(b["text"]["text"], b["url"]) for b in buttons] == [
        ("Teammitglied einladen", "https://app.example.com/settings/members")
    ]


def test_a_message_the_worker_would_suppress_says_why(tmp_path: Path) -> None:
    (tmp_path / "pb.yaml").write_text(
        "id: pb\nname: P\nmilestones:\n  - id: a\n    title: A\n    when: {event: A Done}\n    celebrate:\n"
        "      - channel: in_app\n        title: Done\n        body: Next\n"
        "        cta: {label: Go, url: 'https://app.example.com/?ws={{ user.workspace_id }}'}\n"
    )
    code, output = _preview("--rules", str(tmp_path / "pb.yaml"), "pb", "milestones[0].celebrate[0]")
    assert code == 1 and "would not be sent" in output and "template_error" in output and "workspace_id" in output


def test_a_wrong_path_lists_the_messages_there_are() -> None:
    code, output = _preview("--rules", str(REPO_PLAYBOOKS), "admin_onboarding", "milestones[9].celebrate[0]")
    assert code == 2 and "its messages: milestones[0].celebrate[0]" in output
    code, output = _preview("--rules", str(REPO_PLAYBOOKS), "admin_onboarding", "milestones[nope].celebrate[0]")
    assert code == 2 and "no milestone 'nope'" in output
