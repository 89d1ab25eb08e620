"""`nudgeflow worker` in the foreground until Ctrl-C or SIGTERM (stopped within 10 s, see shutdown.py),
or until a background task fails for good."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from rich.console import Console

from nudgeflow.orchestrator.runtime.shutdown import Shutdown, protect_stdout
from nudgeflow.orchestrator.runtime.worker import Worker
from nudgeflow.orchestrator.settings import Settings

FAILED_EXIT_STATUS = 1
WhenReady = Callable[[Worker], Awaitable[None]]


async def serve_worker(settings: Settings, console: Console, *, when_ready: WhenReady | None = None) -> int:
    """When the supervisor gives up on a background task, the worker shuts down and the process exits
    with status 1 and the reason: a worker that stopped following rules, timers or topics must not
    look alive. `when_ready` runs once the worker is ready (tests use it to break one)."""
    protect_stdout()
    shutdown = Shutdown().install()
    return await shutdown.run(_serve(settings, console, shutdown.stop, when_ready))


async def _serve(settings: Settings, console: Console, stop: asyncio.Event, when_ready: WhenReady | None) -> int:
    async with Worker(settings) as worker:
        where = worker.bootstrap_servers + (" (embedded Tansu)" if worker.broker else "")
        console.print(f"[bold]nudgeflow worker[/bold] on {where}; in-app API: {worker.api_url or 'off'}")
        ready = asyncio.ensure_future(worker.wait_ready(timeout=600))
        await first_of(stop, worker.failed, done=ready)
        if ready.done() and not ready.cancelled() and ready.exception() is None:
            version = worker.nudgeflow.rules.ruleset.version if worker.nudgeflow else "?"
            console.print(f"ready in {ready.result():.1f}s; rules version {version}")
            if when_ready is not None:
                await when_ready(worker)
            await first_of(stop, worker.failed)
        else:
            ready.cancel()
        console.print("stopping…")
    if worker.failure is not None:
        console.print(f"[red]nudgeflow worker stopped: {worker.failure}[/red]", soft_wrap=True)
        # The worker has shut down in order; what is left (a crashed Faust app's own tasks) may never
        # finish cancelling, so the process ends here rather than in asyncio's cleanup.
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(FAILED_EXIT_STATUS)
    return 0


async def first_of(*events: asyncio.Event, done: asyncio.Future[float] | None = None) -> None:
    """Until one of the events is set (or `done` completes)."""
    waits: set[asyncio.Future[Any]] = {asyncio.ensure_future(event.wait()) for event in events}
    try:
        await asyncio.wait({*waits, *([done] if done is not None else [])}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
