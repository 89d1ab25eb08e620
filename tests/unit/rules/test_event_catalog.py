"""`rules check` against the product's event catalog: a misspelled event or property name is reported
with file, line, field and the closest known name, and fails the check unless --warn-only."""

from __future__ import annotations

import textwrap
from pathlib import Path

from rich.console import Console

from nudgeflow.rules.check import run_check

CATALOG = """\
events:
  - name: Data Source Connected
    description: A connector finished its first sync.
    properties: {status: string, source: string}
  - name: Teammate Invited
  - name: Report Created
"""

PLAYBOOK = """\
id: admin
name: Admin
milestones:
  - id: connect
    title: Connect
    when:
      event: {event}
      where: {{{prop}: ok}}
  - id: invite
    title: Invite
    when: {{event: Teammate Invited}}
"""


def check(
    tmp_path: Path, *, event: str, prop: str = "status", catalog: str | None = CATALOG, **options: bool
) -> tuple[int, str]:
    (tmp_path / "admin.yaml").write_text(PLAYBOOK.format(event=event, prop=prop))
    catalog_path = None
    if catalog is not None:
        catalog_path = tmp_path / "events.catalog.yaml"
        catalog_path.write_text(textwrap.dedent(catalog))
    console = Console(record=True, width=400)
    code = run_check(tmp_path / "admin.yaml", console, catalog=catalog_path, **options)
    return code, console.export_text()


def test_a_misspelled_event_fails_with_file_line_field_and_a_suggestion(tmp_path: Path) -> None:
    code, out = check(tmp_path, event="Data Source Conected")
    assert code == 1
    assert "admin.yaml:7" in out and "milestones[0].when.event" in out
    assert "not in the event catalog (did you mean 'Data Source Connected'?)" in out


def test_warn_only_reports_but_passes(tmp_path: Path) -> None:
    code, out = check(tmp_path, event="Data Source Conected", warn_only=True)
    assert code == 0 and "did you mean 'Data Source Connected'" in out and "warnings only" in out


def test_a_misspelled_property_is_reported_at_its_line(tmp_path: Path) -> None:
    code, out = check(tmp_path, event="Data Source Connected", prop="stauts")
    assert code == 1
    assert "admin.yaml:8" in out and "milestones[0].when.where.stauts" in out
    assert "no property 'stauts' in the catalog (did you mean 'status'?)" in out


def test_names_in_the_catalog_pass(tmp_path: Path) -> None:
    code, out = check(tmp_path, event="Data Source Connected")
    assert code == 0 and "OK: 1 playbooks" in out and "problem" not in out


def test_without_a_catalog_a_name_one_typo_from_a_commoner_one_is_reported(tmp_path: Path) -> None:
    (tmp_path / "other.yaml").write_text(
        "id: other\nname: Other\nmilestones:\n"
        "  - {id: a, title: A, when: {event: Teammate Invited}}\n"
        "  - {id: b, title: B, when: {event: Teammate Invited, count: 2}}\n"
    )
    (tmp_path / "admin.yaml").write_text(PLAYBOOK.format(event="Teammate Invted", prop="status"))
    console = Console(record=True, width=400)
    code = run_check(tmp_path, console)
    out = console.export_text()
    assert code == 1 and "admin.yaml:7" in out
    assert "event 'Teammate Invted' looks like a misspelling of 'Teammate Invited'" in out


def test_a_broken_catalog_is_reported_with_its_line(tmp_path: Path) -> None:
    code, out = check(tmp_path, event="Teammate Invited", catalog="events:\n  - description: no name\n")
    assert code == 1 and "events.catalog.yaml:2" in out and "events[0].name" in out
