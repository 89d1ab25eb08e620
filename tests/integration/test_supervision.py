"""A worker's background tasks on the real broker: /healthz lists each one; a worker whose stream
processor crashed reports it, then stops with status 1 and the reason instead of staying half alive."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx

from nudgeflow.orchestrator.broker.embedded import free_port
from tests.support.kafka import eventually
from tests.support.processes import settings_env

EXPECTED_TASKS = {
    "rules-watch",
    "timer-firing",
    "stream-processor",
    "http-server",
    "preferences-materializer",
    "inbox-changes",
    "progress-changes",
}


async def test_healthz_lists_the_supervised_tasks(worker) -> None:  # type: ignore[no-untyped-def]
    async with httpx.AsyncClient(base_url=worker.api_url) as http:
        health = await http.get("/healthz")
    assert health.status_code == 200, health.text
    tasks = health.json()["tasks"]
    assert {name.split(":")[0] for name in tasks} == EXPECTED_TASKS
    assert {t["state"] for t in tasks.values()} == {"running"}


async def test_a_crashed_stream_processor_shows_on_healthz_then_stops_the_worker(
    make_settings, rules_path: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(rules_path, api_port=free_port("127.0.0.1"))
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.crashing_worker"], env=settings_env(settings), stdout=out, stderr=out
        )
    try:

        async def unhealthy() -> dict[str, object] | None:
            assert process.poll() is None, log.read_text()[-3000:]
            try:
                async with httpx.AsyncClient() as http:
                    response = await http.get(f"http://127.0.0.1:{settings.api_port}/healthz")
            except httpx.HTTPError:
                return None
            return response.json() if response.status_code == 503 else None

        health = await eventually(unhealthy, timeout=90, interval=0.2)
        assert health["tasks"]["stream-processor"]["state"] in ("restarting", "failed")  # type: ignore[index]
        assert "an app task raised" in str(health["tasks"]["stream-processor"]["last_error"])  # type: ignore[index]
        started = time.monotonic()
        status = process.wait(timeout=60)  # 5 attempts with 1+2+4+8 s between them, then shutdown
        stopped_after = time.monotonic() - started
    finally:
        if process.poll() is None:
            process.kill()
    output = log.read_text()
    assert status == 1, output[-3000:]
    assert "nudgeflow worker stopped: background task 'stream-processor' failed 5 times in a row" in output
    assert stopped_after < 40, stopped_after
