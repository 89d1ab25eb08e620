"""Ctrl-C and SIGTERM always end the process, within `GRACE_SECONDS` of the first signal.

The first SIGINT/SIGTERM sets the stop event every long-running command awaits, so
it stops in order (offsets committed, producers flushed, the embedded broker ended).
An orderly stop can hang where we cannot reach: a paused broker (aiokafka waits out
its request timeouts), a provider call in a worker thread (threads cannot be
cancelled and the interpreter joins them at exit), a task that swallows its
cancellation. So the first signal also arms a watchdog thread that exits the process
when the grace period is over, and a second signal exits at once. Both kill the
embedded broker first: it never outlives its parent.

A closed stdout (`nudgeflow demo | head`) must not turn into a crash or a hang
either: writes to it are dropped once the pipe is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import io
import logging
import os
import signal
import sys
import threading
from collections.abc import Awaitable, Callable
from types import FrameType
from typing import NoReturn, TextIO

log = logging.getLogger(__name__)

GRACE_SECONDS = 8.0  # the promise is 10 s from the first signal; the rest is margin for the exit itself
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_before_exit: list[Callable[[], None]] = []


def before_forced_exit(callback: Callable[[], None]) -> Callable[[], None]:
    """Run `callback` (fast, synchronous) before a forced exit, e.g. to kill a child process.
    Returns a function that unregisters it."""
    _before_exit.append(callback)
    return lambda: _before_exit.remove(callback) if callback in _before_exit else None


def force_exit(code: int, why: str) -> NoReturn:
    """End the process now: run the registered callbacks, say why on stderr, `os._exit`."""
    for callback in list(_before_exit):
        with contextlib.suppress(Exception):
            callback()
    with contextlib.suppress(Exception):
        log.error("exiting without finishing shutdown: %s", why)
    with contextlib.suppress(OSError):
        os.write(2, f"nudgeflow: exiting without finishing shutdown: {why}\n".encode())
    os._exit(code)


class Shutdown:
    """Signal handling for one command: `stop` is set by the first signal; see the module docstring."""

    def __init__(self, *, grace: float = GRACE_SECONDS) -> None:
        self.grace = grace
        self.stop = asyncio.Event()
        self.signals = 0
        self.exit_code: int | None = None  # what the command returned, if it got that far
        self._loop = asyncio.get_running_loop()
        self._watchdog: threading.Timer | None = None

    def install(self) -> Shutdown:
        """Plain `signal.signal` handlers, not the loop's: they run even when the loop is stuck."""
        for signum in _STOP_SIGNALS:
            signal.signal(signum, self._on_signal)
        return self

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.signals += 1
        name = signal.Signals(signum).name
        if self.signals > 1:
            force_exit(128 + signum, f"second {name}")
        self.arm(name)
        with contextlib.suppress(RuntimeError):  # the loop may already be closed
            self._loop.call_soon_threadsafe(self.stop.set)

    def arm(self, after: str) -> None:
        """Start the watchdog (once): `grace` seconds `after` something, the process exits, finished or not."""
        if self._watchdog is not None:
            return
        self._watchdog = threading.Timer(self.grace, self._expire, args=(after,))
        self._watchdog.daemon = True
        self._watchdog.start()

    def _expire(self, after: str) -> None:
        if self.exit_code is None:
            force_exit(1, f"still stopping {self.grace:g}s after {after}")
        force_exit(self.exit_code, f"cleanup still running {self.grace:g}s after {after}")

    async def run(self, main: Awaitable[int]) -> int:
        """Run `main` (which watches `stop` itself once it is up) until it returns. If it has not
        returned 3/4 of the grace period after a signal (still starting, or an orderly stop stuck),
        cancel it, so its cleanup still gets a chance before the watchdog. Whatever follows
        (asyncio's task cleanup, joining worker threads) is covered by the watchdog."""
        task = asyncio.ensure_future(main)
        stopped = asyncio.ensure_future(self.stop.wait())
        try:
            await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if not task.done():
                await asyncio.wait({task}, timeout=self.grace * 0.75)
                if not task.done():
                    log.warning("still stopping after %.0fs: cancelling", self.grace * 0.75)
                    task.cancel()
            self.exit_code = await task if not task.cancelled() else 1
        except asyncio.CancelledError:
            self.exit_code = 1
        finally:
            stopped.cancel()
            self.arm("the command returned")  # bounds asyncio.run's cleanup and the interpreter's exit
        return self.exit_code


def stop_event_on_signals() -> asyncio.Event:
    """The stop event of a Shutdown installed for this process (for code that only needs the event)."""
    return Shutdown().install().stop


async def wait_for_stop(stop: asyncio.Event, timeout: float | None) -> None:
    """Until a signal arrives, or `timeout` seconds pass (None: forever)."""
    try:
        await asyncio.wait_for(stop.wait(), timeout)
    except TimeoutError:
        pass


class _PipeSafeStream(io.TextIOBase):
    """A text stream that drops output once its pipe is closed, instead of raising BrokenPipeError."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self.broken = False

    def _closed_pipe(self) -> None:
        self.broken = True
        with contextlib.suppress(OSError, ValueError):  # Python's final flush must not fail either
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)

    def write(self, text: str) -> int:
        if not self.broken:
            try:
                self._stream.write(text)
            except OSError as exc:
                if not isinstance(exc, BrokenPipeError) and exc.errno not in (errno.EPIPE, errno.EINVAL):
                    raise
                self._closed_pipe()
        return len(text)

    def flush(self) -> None:
        if not self.broken:
            try:
                self._stream.flush()
            except OSError:
                self._closed_pipe()

    def isatty(self) -> bool:
        return not self.broken and self._stream.isatty()

    def fileno(self) -> int:
        return self._stream.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self._stream.encoding


def protect_stdout() -> None:
    """Make stdout drop output after its reader went away (rich's Console writes to sys.stdout)."""
    if not isinstance(sys.stdout, _PipeSafeStream) and sys.stdout is not None:
        sys.stdout = _PipeSafeStream(sys.stdout)
