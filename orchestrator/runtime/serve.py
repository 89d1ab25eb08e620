"""`nudgeflow worker` in the foreground until Ctrl-C or SIGTERM, or until a background task fails for good."""

from __future__ import annotations

import asyncio

from rich.console import Console

from nudgeflow.orchestrator.runtime.shutdown import stop_event_on_signals
from nudgeflow.orchestrator.runtime.worker import Worker
from nudgeflow.orchestrator.settings import Settings


async def serve_worker(settings: Settings, console: Console) -> None:
    """Exits with status 1, after a clean shutdown, when the supervisor gave up on a background task:
    a worker that stopped following rules, timers or topics must not look alive."""
    stop = stop_event_on_signals()
    async with Worker(settings) as worker:
        where = worker.bootstrap_servers + (" (embedded Tansu)" if worker.broker else "")
        console.print(f"[bold]nudgeflow worker[/bold] on {where}; in-app API: {worker.api_url or 'off'}")
        ready = await worker.wait_ready(timeout=600)
        console.print(
            f"ready in {ready:.1f}s; rules version {worker.nudgeflow.rules.ruleset.version}" if worker.nudgeflow else ""
        )
        await first_of(stop, worker.failed)
        console.print("stopping…")
    if worker.failure is not None:
        console.print(f"[red]nudgeflow worker stopped: {worker.failure}[/red]")
        raise SystemExit(1)


async def first_of(*events: asyncio.Event) -> None:
    """Until one of the events is set."""
    waits = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
