"""`nudgeflow worker` (settings from NUDGEFLOW_* variables) whose Faust app crashes once it is ready,
as it does when one of its tasks raises: for the test that such a worker stops, loudly."""

from __future__ import annotations

import asyncio

from rich.console import Console

from nudgeflow.orchestrator.runtime.serve import serve_worker
from nudgeflow.orchestrator.runtime.worker import Worker
from nudgeflow.orchestrator.settings import Settings


async def crash(worker: Worker) -> None:
    assert worker.nudgeflow is not None
    await worker.nudgeflow.app.crash(RuntimeError("an app task raised"))


if __name__ == "__main__":
    asyncio.run(serve_worker(Settings(), Console(), when_ready=crash))
