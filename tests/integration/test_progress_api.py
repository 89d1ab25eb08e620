"""The onboarding checklist, served by any worker from the state of the worker holding the user:
two worker processes share the partitions, every user's progress reads the same from both (one of
them forwards), and after one is killed -9 the other serves everyone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from nudgeflow.orchestrator.broker.embedded import free_port
from tests.support.events import identify, track
from tests.support.inapp import auth_headers
from tests.support.kafka import eventually, produce
from tests.support.processes import WorkerProcess

pytestmark = pytest.mark.timeout(150)
SERVED_BY = "x-nudgeflow-served-by"


async def progress(api_url: str, user: str, *, retry_later: bool = False) -> tuple[dict[str, Any], str]:
    """The checklist and the worker that read it; with `retry_later`, a 503 (the user's worker is gone and
    nobody took its partition over yet) comes back as an empty answer."""
    async with httpx.AsyncClient(base_url=api_url, timeout=10) as client:
        response = await client.get(f"/v1/users/{user}/progress", headers=auth_headers(user))
    if retry_later and response.status_code == 503:
        assert response.headers["retry-after"] == "1"
        return {"playbooks": []}, ""
    assert response.status_code == 200, (response.status_code, response.text)
    return response.json(), response.headers[SERVED_BY]


def states(checklist: dict[str, Any]) -> list[tuple[str, str]]:
    return [(step["milestone_id"], step["state"]) for playbook in checklist["playbooks"] for step in playbook["steps"]]


async def test_any_worker_serves_any_users_checklist_and_a_survivor_serves_all(  # type: ignore[no-untyped-def]
    make_settings, rules_path: Path, tmp_path: Path
) -> None:
    base = make_settings(rules_path)
    workers = [
        WorkerProcess(base.model_copy(update={"api_port": free_port()}), tmp_path / f"worker-{n}.log") for n in range(2)
    ]
    users = [f"progress-{n:02d}" for n in range(12)]
    expected = [("connect_source", "done"), ("invite_teammate", "next")]
    try:
        for worker in workers:
            await worker.start(timeout=60)
        records = []
        for user in users:
            records += [
                (user.encode(), identify(user, {"role": "admin"})),
                (user.encode(), track(user, "Data Source Connected", {"status": "ok", "source": "Postgres"})),
            ]
        assert base.kafka_bootstrap_servers
        await produce(base.kafka_bootstrap_servers, base.events_topic, records)

        async def everyone_done_on(api_url: str) -> bool:
            answers = [await progress(api_url, user) for user in users]
            return all(states(body) == expected for body, _ in answers)

        await eventually(lambda: everyone_done_on(workers[0].api_url), timeout=60, interval=0.5)
        served: dict[str, set[str]] = {worker.api_url: set() for worker in workers}
        for user in users:
            (first, first_by), (second, second_by) = [await progress(w.api_url, user) for w in workers]
            assert states(first) == states(second) == expected
            assert first_by == second_by, "both answers come from the worker holding the user"
            served[first_by].add(user)
        assert all(served.values()), f"each worker holds some users: {served}"

        workers[0].kill()
        survivor = workers[1].api_url

        async def survivor_serves_all() -> bool:
            answers = [await progress(survivor, user, retry_later=True) for user in users]
            return all(states(body) == expected and by == survivor for body, by in answers)

        await eventually(survivor_serves_all, timeout=60, interval=0.5)
    finally:
        for worker in workers:
            worker.stop()
