"""Scale-out: two worker processes share the partitions, a third joins, one is killed -9, events keep
coming: every user's milestones are celebrated exactly once, readable from any worker's API."""

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


async def test_three_workers_one_killed(make_settings, rules_path: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    base = make_settings(rules_path)
    bootstrap, topic = base.kafka_bootstrap_servers, base.events_topic
    workers = [
        WorkerProcess(base.model_copy(update={"api_port": free_port()}), tmp_path / f"worker-{n}.log") for n in range(3)
    ]
    users = [f"scale-{i:03d}" for i in range(60)]
    script = user_script(users)
    try:
        await workers[0].start(timeout=30)
        await workers[1].start(timeout=30)
        load = Load(bootstrap, topic, script, rate=40).start()
        await load.until_sent(len(script) // 4)
        await workers[2].start(timeout=30)  # joins: the group rebalances over three
        await load.until_sent(len(script) // 2)
        workers[0].kill()  # its partitions move to the other two
        await load.finish()

        found = await wait_for_all_completions(bootstrap, base.outcomes_topic, users)
        assert_each_milestone_completed_once(found, users)
        for survivor in workers[1:]:
            await assert_one_prompt_per_milestone(survivor.api_url, users)
    finally:
        for worker in workers:
            worker.stop()
