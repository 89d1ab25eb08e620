"""`nudgeflow worker` in the foreground until Ctrl-C or SIGTERM, or until a background task fails for good."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Awaitable, Callable

from rich.console import Console

from nudgeflow.orchestrator.runtime.shutdown import stop_event_on_signals
from nudgeflow.orchestrator.runtime.worker import Worker
from nudgeflow.orchestrator.settings import Settings

FAILED_EXIT_STATUS = 1


async def serve_worker(
    settings: Settings, console: Console, *, when_ready: Callable[[Worker], Awaitable[None]] | None = None
) -> None:
    """When the supervisor gives up on a background task, the worker shuts down and the process exits
    with status 1 and the reason: a worker that stopped following rules, timers or topics must not
    look alive. `when_ready` runs once the worker is ready (tests use it to break one)."""
    stop = stop_event_on_signals()
    async with Worker(settings) as worker:
        where = worker.bootstrap_servers + (" (embedded Tansu)" if worker.broker else "")
        console.print(f"[bold]nudgeflow worker[/bold] on {where}; in-app API: {worker.api_url or 'off'}")
        ready = await worker.wait_ready(timeout=600)
        console.print(
            f"ready in {ready:.1f}s; rules version {worker.nudgeflow.rules.ruleset.version}" if worker.nudgeflow else ""
        )
        if when_ready is not None:
            await when_ready(worker)
        await first_of(stop, worker.failed)
        console.print("stopping…")
    if worker.failure is not None:
        console.print(f"[red]nudgeflow worker stopped: {worker.failure}[/red]", soft_wrap=True)
        # The worker has shut down in order; what is left (a crashed Faust app's own tasks) may never
        # finish cancelling, so the process ends here rather than in asyncio's cleanup.
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(FAILED_EXIT_STATUS)


async def first_of(*events: asyncio.Event) -> None:
    """Until one of the events is set."""
    waits = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
