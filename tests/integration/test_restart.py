"""kill -9 the worker and start it again on the same broker: nothing lost, nothing celebrated twice."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from nudgeflow.channels.inapp.auth import issue_token
from nudgeflow.orchestrator.broker.embedded import free_port
from tests.support.events import identify, track
from tests.support.kafka import eventually, produce, read_topic
from tests.support.processes import WorkerProcess, settings_env

SECRET = "restart-test-signing-secret"


@pytest.fixture
def worker_process(make_settings, rules_path: Path, tmp_path: Path) -> Iterator[WorkerProcess]:  # type: ignore[no-untyped-def]
    process = WorkerProcess(
        make_settings(rules_path, api_port=free_port(), inapp_signing_secret=SECRET), tmp_path / "worker.log"
    )
    yield process
    process.stop()


def auth(process: WorkerProcess, user: str) -> dict[str, str]:
    """A token signed with the key the child process actually got from its environment."""
    secret = settings_env(process.settings)["NUDGEFLOW_INAPP_SIGNING_SECRET"]
    return {"Authorization": f"Bearer {issue_token(secret, user)}"}


async def prompts(process: WorkerProcess, user: str) -> list[dict[str, object]]:
    async with httpx.AsyncClient(base_url=process.api_url) as client:
        return list((await client.get(f"/v1/users/{user}/prompts", headers=auth(process, user))).json()["prompts"])


async def test_worker_killed_and_restarted_keeps_state_and_prompts(worker_process: WorkerProcess) -> None:
    settings = worker_process.settings
    bootstrap, topic = settings.kafka_bootstrap_servers or "", settings.events_topic
    await worker_process.start()
    connect = track("ivy", "Data Source Connected", {"status": "ok", "source": "BigQuery"}, message_id="c-1")
    await produce(bootstrap, topic, [(b"ivy", identify("ivy", {"role": "admin"})), (b"ivy", connect)])
    [first] = await eventually(lambda: prompts(worker_process, "ivy"))
    async with httpx.AsyncClient(base_url=worker_process.api_url) as client:
        await client.post(
            f"/v1/users/ivy/prompts/{first['delivery_id']}/status",
            json={"status": "seen"},
            headers=auth(worker_process, "ivy"),
        )

    worker_process.kill()
    await worker_process.start()

    # The same message again, and a new one for the same milestone: neither celebrates twice.
    again = track("ivy", "Data Source Connected", {"status": "ok", "source": "Snowflake"}, message_id="c-2")
    await produce(
        bootstrap, topic, [(b"ivy", connect), (b"ivy", again), (b"ivy", track("ivy", "Teammate Invited", {}))]
    )
    after = await eventually(lambda: _when_count(prompts(worker_process, "ivy"), 2))
    titles = {p["title"]: p for p in after}
    assert set(titles) == {"You connected BigQuery!", "Team work!"}
    assert titles["You connected BigQuery!"]["status"] == "seen", "prompt state survived the restart"
    assert titles["Team work!"]["body"] == "2 of 2 done", "progress survived the restart"

    outcomes = await read_topic(bootstrap, settings.outcomes_topic)
    completions = {
        o["attributes"]["message_id"]
        for o in outcomes
        if o["kind"] == "milestone_completed" and o["milestone_id"] == "connect_source"
    }
    assert completions == {"c-1"}, "the restarted worker knew the milestone was already done"


async def _when_count(listing, count: int):  # type: ignore[no-untyped-def]
    items = await listing
    return items if len(items) >= count else None
