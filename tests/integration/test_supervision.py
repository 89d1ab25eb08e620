"""A worker's background tasks on the real broker: /healthz lists each one, and a crashed stream
processor stops the worker with a clear reason instead of leaving it half alive."""

from __future__ import annotations

from pathlib import Path

import httpx

from nudgeflow.orchestrator.runtime.supervise import Supervisor
from nudgeflow.orchestrator.runtime.worker import Worker
from tests.support.kafka import eventually


async def test_healthz_lists_the_supervised_tasks_and_a_crash_stops_the_worker(make_settings, rules_path: Path) -> None:  # type: ignore[no-untyped-def]
    worker = Worker(make_settings(rules_path))
    worker.supervisor = Supervisor(first_backoff=0.05, max_failures=3)  # give up within a second
    async with worker:
        await worker.wait_ready(timeout=60)
        async with httpx.AsyncClient(base_url=worker.api_url or "") as http:
            health = await http.get("/healthz")
            assert health.status_code == 200, health.text
            tasks = health.json()["tasks"]
            assert {name.split(":")[0] for name in tasks} >= {
                "rules-watch",
                "timer-firing",
                "stream-processor",
                "preferences-materializer",
                "inbox-materializer",
            }, tasks
            assert {t["state"] for t in tasks.values()} == {"running"}

            assert worker.nudgeflow is not None
            await worker.nudgeflow.app.crash(RuntimeError("boom"))  # as when an app task raises
            await eventually(lambda: worker.failed.is_set(), timeout=20)
            down = await http.get("/healthz")
        assert down.status_code == 503
        assert down.json()["tasks"]["stream-processor"]["state"] == "failed"
        assert worker.failure is not None and "stream processor (Faust app) crashed" in worker.failure
        assert "boom" in worker.failure
