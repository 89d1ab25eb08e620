"""The broker stops answering for 10 s (SIGSTOP, data kept) and comes back (SIGCONT): the worker
carries on, and events produced before, during and after the pause are all processed."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from nudgeflow.orchestrator.broker.embedded import EmbeddedBroker
from nudgeflow.orchestrator.runtime.worker import Worker
from tests.integration.faults.helpers import (
    Load,
    assert_each_milestone_completed_once,
    assert_one_prompt_per_milestone,
    user_script,
    wait_for_all_completions,
)

pytestmark = pytest.mark.timeout(150)  # typical 20-40 s; margin for a loaded 2-core CI machine
PAUSE_SECONDS = 10.0


@pytest.fixture
def own_broker() -> Iterator[EmbeddedBroker]:
    """A broker for this test only: pausing the session broker would stall every other test."""
    with EmbeddedBroker() as broker:
        yield broker
        if broker.pid:
            os.kill(broker.pid, signal.SIGCONT)  # never leave it stopped, whatever happened


async def test_worker_survives_a_10s_broker_pause(
    make_settings,
    rules_path: Path,  # type: ignore[no-untyped-def]
    own_broker: EmbeddedBroker,
) -> None:
    settings = make_settings(rules_path, kafka_bootstrap_servers=own_broker.bootstrap_servers)
    bootstrap, topic = own_broker.bootstrap_servers, settings.events_topic
    before, during, after = ([f"{phase}-{i:02d}" for i in range(10)] for phase in ("before", "during", "after"))
    async with Worker(settings) as worker:
        await worker.wait_ready(timeout=30)
        await Load(bootstrap, topic, user_script(before), rate=500).start().finish()
        await wait_for_all_completions(bootstrap, settings.outcomes_topic, before, timeout=20)

        assert own_broker.pid is not None
        os.kill(own_broker.pid, signal.SIGSTOP)
        paused_at = time.monotonic()
        # Records handed to a producer while the broker is frozen: sent once it answers again.
        stalled = Load(bootstrap, topic, user_script(during), rate=500).start()
        await asyncio.sleep(PAUSE_SECONDS - (time.monotonic() - paused_at))
        assert stalled.sent < len(user_script(during)), "the broker was not actually paused"
        os.kill(own_broker.pid, signal.SIGCONT)

        await stalled.finish(timeout=30)
        await Load(bootstrap, topic, user_script(after), rate=500).start().finish()
        everyone = before + during + after
        found = await wait_for_all_completions(bootstrap, settings.outcomes_topic, everyone, timeout=30)
        assert_each_milestone_completed_once(found, everyone)
        assert worker.api_url
        deadline = time.monotonic() + 20
        while not worker.is_ready() and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert worker.is_ready(), "the worker is back in its group with its partitions"
        await assert_one_prompt_per_milestone(worker.api_url, everyone)
