"""Ctrl-C and SIGTERM end the process cleanly: one event that every long-running command awaits."""

from __future__ import annotations

import asyncio
import signal


def stop_event_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    return stop


async def wait_for_stop(stop: asyncio.Event, timeout: float | None) -> None:
    """Until a signal arrives, or `timeout` seconds pass (None: forever)."""
    try:
        await asyncio.wait_for(stop.wait(), timeout)
    except TimeoutError:
        pass
