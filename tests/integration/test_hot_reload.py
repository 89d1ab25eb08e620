"""A changed ruleset reaches the running worker; a broken one is rejected and the old rules keep running."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from nudgeflow.orchestrator.runtime.worker import Worker
from tests.support.events import track
from tests.support.kafka import eventually, produce
from tests.support.worker import prompts_of

RULES = """\
id: hello
name: Hello
milestones:
  - id: first_login
    title: Log in
    when: {event: Logged In}
    celebrate:
      - {channel: in_app, title: "TITLE", body: "welcome"}
"""


async def test_rules_reload_without_restart_and_bad_files_are_rejected(
    make_settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "rules"
    folder.mkdir()
    playbook = folder / "hello.yaml"
    playbook.write_text(RULES.replace("TITLE", "Welcome v1"))
    async with Worker(make_settings(folder)) as worker:
        await worker.wait_ready()
        assert worker.nudgeflow is not None
        first_version = worker.nudgeflow.rules.ruleset.version

        async def celebrate(user: str) -> dict[str, object]:
            await produce(
                worker.bootstrap_servers, worker.settings.events_topic, [(user.encode(), track(user, "Logged In", {}))]
            )
            [prompt] = await eventually(lambda: prompts_of(worker, user))
            return prompt

        assert (await celebrate("a1"))["title"] == "Welcome v1"

        caplog.set_level(logging.ERROR, logger="nudgeflow.orchestrator.rules_holder")
        playbook.write_text(RULES.replace("TITLE", "Broken").replace("celebrate:", "celebrat:"))
        await eventually(lambda: "ruleset rejected" in caplog.text, timeout=10)
        assert "celebrat" in caplog.text and "hello.yaml" in caplog.text
        assert (await celebrate("a2"))["title"] == "Welcome v1", "the rules in force keep running"

        playbook.write_text(RULES.replace("TITLE", "Welcome v2"))
        await eventually(lambda: worker.nudgeflow.rules.ruleset.version != first_version, timeout=10)
        prompt = await celebrate("a3")
        assert prompt["title"] == "Welcome v2"
        assert prompt["playbook_version"] == worker.nudgeflow.rules.ruleset.version != first_version
