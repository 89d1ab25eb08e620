"""Background loops of the worker that cannot die silently.

Each long-running task (rules watcher, timer firing, topic followers, ...) runs
under a `Supervisor`: if it raises, or returns when it should run forever, the
failure is logged with its traceback and the task restarts after an
exponentially growing pause. After `max_failures` failures in a row (a run that
lasted `stable_after` seconds resets the count) the supervisor gives up: it sets
`gave_up` with a clear reason, which the worker treats as fatal. `health()`
reports each task's state for the health endpoint.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

log = logging.getLogger(__name__)

Loop = Callable[[], Awaitable[None]]
Sleep = Callable[[float], Awaitable[None]]


class TaskState(StrEnum):
    RUNNING = "running"
    RESTARTING = "restarting"  # failed, waiting for its backoff to end
    FAILED = "failed"  # failed too often: the supervisor gave up
    STOPPED = "stopped"  # stopped on purpose (shutdown)


@dataclass
class TaskStatus:
    name: str
    state: TaskState = TaskState.RUNNING
    restarts: int = 0
    failures_in_a_row: int = 0
    last_error: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "state": self.state.value,
            "restarts": self.restarts,
            "failures_in_a_row": self.failures_in_a_row,
            "last_error": self.last_error,
        }


class Supervisor:
    """Runs loops that should never end; `sleep` and `clock` are injectable so tests need no real time."""

    def __init__(
        self,
        *,
        max_failures: int = 5,
        first_backoff: float = 1.0,
        max_backoff: float = 60.0,
        stable_after: float = 300.0,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.first_backoff = first_backoff
        self.max_backoff = max_backoff
        self.stable_after = stable_after
        self._sleep = sleep
        self._clock = clock
        self.statuses: dict[str, TaskStatus] = {}
        self.gave_up = asyncio.Event()
        self.reason: str | None = None
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def spawn(self, name: str, loop: Loop) -> Callable[[], Awaitable[None]]:
        """Run `loop()` now, and again whenever it ends, until stopped; returns what stops it (call it
        before closing what the loop uses, so the closing is not mistaken for a failure)."""
        if name in self._tasks:
            raise ValueError(f"a background task named {name!r} is already supervised")
        self.statuses[name] = TaskStatus(name)
        self._tasks[name] = asyncio.create_task(self._keep(name, loop), name=f"supervised:{name}")
        return lambda: self.stop_task(name)

    def health(self) -> tuple[bool, dict[str, dict[str, object]]]:
        """(all running?, state of each task)."""
        states = {name: status.as_dict() for name, status in sorted(self.statuses.items())}
        return all(s.state is TaskState.RUNNING for s in self.statuses.values()), states

    async def stop_task(self, name: str) -> None:
        task = self._tasks[name]
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        if self.statuses[name].state is not TaskState.FAILED:
            self.statuses[name].state = TaskState.STOPPED

    async def stop(self) -> None:
        """Stop every task (shutdown): stopping is never counted as a failure."""
        for name in list(self._tasks):
            await self.stop_task(name)

    async def _keep(self, name: str, loop: Loop) -> None:
        status = self.statuses[name]
        while True:
            status.state = TaskState.RUNNING
            started = self._clock()
            error = await self._run_once(name, loop)
            if self._clock() - started >= self.stable_after:
                status.failures_in_a_row = 0
            status.failures_in_a_row += 1
            status.last_error = error
            if status.failures_in_a_row >= self.max_failures:
                status.state = TaskState.FAILED
                self.reason = (
                    f"background task {name!r} failed {status.failures_in_a_row} times in a row "
                    f"(last: {error}); stopping the worker"
                )
                log.error(self.reason)
                self.gave_up.set()
                return
            delay = min(self.first_backoff * 2 ** (status.failures_in_a_row - 1), self.max_backoff)
            status.state = TaskState.RESTARTING
            log.warning("background task %r restarts in %.1fs (failure %d)", name, delay, status.failures_in_a_row)
            await self._sleep(delay)
            status.restarts += 1

    async def _run_once(self, name: str, loop: Loop) -> str:
        """Run the loop until it ends; a description of why it ended (it never should)."""
        try:
            await loop()
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # stop() or shutdown: not a failure
            log.error("background task %r was cancelled from inside", name)
            return "cancelled from inside"
        except Exception as exc:
            log.exception("background task %r failed", name)
            return f"{type(exc).__name__}: {exc}"
        log.error("background task %r returned, but it should run until shutdown", name)
        return "returned"
