"""`nudgeflow worker` in the foreground until Ctrl-C or SIGTERM."""

from __future__ import annotations

from rich.console import Console

from nudgeflow.orchestrator.runtime.shutdown import stop_event_on_signals, wait_for_stop
from nudgeflow.orchestrator.runtime.worker import Worker
from nudgeflow.orchestrator.settings import Settings


async def serve_worker(settings: Settings, console: Console) -> None:
    stop = stop_event_on_signals()
    async with Worker(settings) as worker:
        where = worker.bootstrap_servers + (" (embedded Tansu)" if worker.broker else "")
        console.print(f"[bold]nudgeflow worker[/bold] on {where}; in-app API: {worker.api_url or 'off'}")
        ready = await worker.wait_ready(timeout=600)
        console.print(
            f"ready in {ready:.1f}s; rules version {worker.nudgeflow.rules.ruleset.version}" if worker.nudgeflow else ""
        )
        await wait_for_stop(stop, None)
        console.print("stopping…")
