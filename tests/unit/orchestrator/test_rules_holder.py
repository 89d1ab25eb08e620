"""RulesHolder: hot reload swaps the engine only for valid new rules."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from nudgeflow.orchestrator.rules_holder import RulesHolder
from nudgeflow.rules import load_ruleset
from tests.support.playbooks import onboarding_playbook


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "playbooks"
    path.mkdir()
    (path / "trial.yaml").write_text(onboarding_playbook())
    return path


def test_a_valid_change_replaces_the_engine(folder: Path) -> None:
    holder = RulesHolder.from_path(folder)
    before, engine = holder.ruleset.version, holder.engine
    assert holder.reload() is False, "nothing changed"
    (folder / "trial.yaml").write_text(onboarding_playbook().replace('title: "Connected"', 'title: "Linked"'))
    assert holder.reload() is True
    assert holder.ruleset.version != before and holder.engine is not engine


def test_invalid_files_keep_the_rules_in_force(folder: Path, caplog: pytest.LogCaptureFixture) -> None:
    holder = RulesHolder.from_path(folder)
    version, engine = holder.ruleset.version, holder.engine
    (folder / "trial.yaml").write_text("id: trial\nmilestones: [")
    with caplog.at_level(logging.ERROR, logger="nudgeflow.orchestrator.rules_holder"):
        assert holder.reload() is False
    assert holder.ruleset.version == version and holder.engine is engine
    assert f"keeping version {version}" in caplog.text


def test_rules_without_a_path_cannot_reload(folder: Path) -> None:
    assert RulesHolder(load_ruleset(folder)).reload() is False
