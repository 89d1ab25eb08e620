"""kill -9 a worker process twice while events keep arriving: after each restart it resumes,
and every milestone is completed exactly once and celebrated once in the inbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from nudgeflow.orchestrator.broker.embedded import free_port
from tests.integration.faults.helpers import (
    Load,
    assert_each_milestone_completed_once,
    assert_one_prompt_per_milestone,
    user_script,
    wait_for_all_completions,
)
from tests.support.processes import WorkerProcess

pytestmark = pytest.mark.timeout(150)  # typical 20-40 s; margin for a loaded 2-core CI machine


async def test_kill_9_twice_under_load(make_settings, rules_path: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(rules_path, api_port=free_port())
    bootstrap, topic = settings.kafka_bootstrap_servers, settings.events_topic
    users = [f"kill-{i:03d}" for i in range(50)]
    script = user_script(users)
    worker = WorkerProcess(settings, tmp_path / "worker.log")
    try:
        await worker.start(timeout=30)
        load = Load(bootstrap, topic, script, rate=40).start()
        for kill in range(2):
            await load.until_sent(len(script) * (kill + 1) // 3)
            worker.kill()  # SIGKILL: no shutdown, no final offset commit
            await worker.start(timeout=30)
        await load.finish()

        found = await wait_for_all_completions(bootstrap, settings.outcomes_topic, users)
        try:
            assert_each_milestone_completed_once(found, users)
        except AssertionError as failure:
            raise AssertionError(f"{failure}\n{await worker.diagnosis()}") from failure
        await assert_one_prompt_per_milestone(worker.api_url, users)
    finally:
        worker.stop()
