"""`nudgeflow worker` in the foreground until Ctrl-C or SIGTERM (stopped within 10 s, see shutdown.py)."""

from __future__ import annotations

import asyncio

from rich.console import Console

from nudgeflow.orchestrator.runtime.shutdown import Shutdown, protect_stdout, wait_for_stop
from nudgeflow.orchestrator.runtime.worker import Worker
from nudgeflow.orchestrator.settings import Settings


async def serve_worker(settings: Settings, console: Console) -> int:
    protect_stdout()
    shutdown = Shutdown().install()
    return await shutdown.run(_serve(settings, console, shutdown.stop))


async def _serve(settings: Settings, console: Console, stop: asyncio.Event) -> int:
    async with Worker(settings) as worker:
        where = worker.bootstrap_servers + (" (embedded Tansu)" if worker.broker else "")
        console.print(f"[bold]nudgeflow worker[/bold] on {where}; in-app API: {worker.api_url or 'off'}")
        ready = asyncio.ensure_future(worker.wait_ready(timeout=600))
        stopped = asyncio.ensure_future(stop.wait())
        await asyncio.wait({ready, stopped}, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        if ready.done():
            console.print(
                f"ready in {ready.result():.1f}s; rules version {worker.nudgeflow.rules.ruleset.version}"
                if worker.nudgeflow
                else ""
            )
            await wait_for_stop(stop, None)
        else:
            ready.cancel()
        console.print("stopping…")
    return 0
