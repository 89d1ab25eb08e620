"""Hot reload in the middle of a burst: the rules change between two events of the same stream and
nothing is lost or sent twice; events after the reload are decided by the new rules."""

from __future__ import annotations

import asyncio
from pathlib import Path

from nudgeflow.orchestrator.runtime.worker import Worker
from tests.integration.conftest import PLAYBOOK
from tests.support.events import identify, track
from tests.support.kafka import eventually, produce
from tests.support.worker import prompts_of

USERS = [f"hb{n}" for n in range(60)]


async def test_reload_mid_burst_loses_nothing_and_sends_nothing_twice(worker: Worker, rules_path: Path) -> None:
    assert worker.nudgeflow is not None
    first, second = USERS[:30], USERS[30:]

    def burst(users: list[str]) -> list[tuple[bytes, bytes]]:
        records: list[tuple[bytes, bytes]] = []
        for user in users:
            records.append((user.encode(), identify(user, {"role": "admin"})))
            records.append((user.encode(), track(user, "Data Source Connected", {"status": "ok", "source": "S3"})))
        return records

    sending = asyncio.ensure_future(produce(worker.bootstrap_servers, worker.settings.events_topic, burst(first)))
    (rules_path / "admin.yaml").write_text(PLAYBOOK.replace("You connected {{ event.source }}!", "Connected: v2"))
    assert await asyncio.to_thread(worker.nudgeflow.rules.reload)
    await sending
    await produce(worker.bootstrap_servers, worker.settings.events_topic, burst(second))

    async def everyone_once() -> bool:
        return all([len(await prompts_of(worker, user)) == 1 for user in USERS])

    await eventually(everyone_once, timeout=90)
    for user in second:  # produced after the reload: the new rules decided them
        [prompt] = await prompts_of(worker, user)
        assert prompt["title"] == "Connected: v2"
    titles = {(await prompts_of(worker, user))[0]["title"] for user in first}
    assert titles <= {"You connected S3!", "Connected: v2"}
