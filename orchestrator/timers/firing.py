"""Fires due timers by publishing a command to the partition that owns the user.

Runs in every worker, over the partitions it owns. The timers themselves are entries of the
`timers` table, sorted by due time (see index.py), written by the agent in the same step that
stores the user's record. Publishing a command, instead of firing in place, lets the agent apply
the timer in order with the user's events; the agent then deletes the entry.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from nudgeflow.orchestrator.clock import Clock, SystemClock
from nudgeflow.orchestrator.timers.index import TimerIndex
from nudgeflow.orchestrator.timers.schedule import ScheduledTimer
from nudgeflow.rules.contracts.timers import TimerCommand

log = logging.getLogger(__name__)
MAX_SLEEP_SECONDS = 0.2
PUBLISH_CHUNK = 100

Publish = Callable[[ScheduledTimer], Awaitable[None]]
Owned = Callable[[], set[int]]
"""The partitions this worker owns now."""


class TimerFiring:
    """Publishes each due timer once per arming; `fire_due` is one pass, `run` the worker's loop."""

    def __init__(self, publish: Publish, index: TimerIndex, *, clock: Clock | None = None) -> None:
        self.index = index
        self.clock = clock or SystemClock()
        self._publish = publish
        self.fired = 0
        self.lag_seconds: list[float] = []

    def on_rebalance(self) -> None:
        self.index.reset()

    async def fire_due(self, owned: set[int]) -> int:
        """Publish every timer of the owned partitions due by now and not already in flight."""
        now = self.clock.now().timestamp()
        due = self.index.due(now, sorted(owned))
        for start in range(0, len(due), PUBLISH_CHUNK):  # acks awaited together, not one round trip each
            chunk = due[start : start + PUBLISH_CHUNK]
            await asyncio.gather(*(self._publish(timer) for timer in chunk))
            for timer in chunk:
                self.index.fired(timer)
            self.fired += len(chunk)
        self.lag_seconds = [*self.lag_seconds, *(now - timer.due_at.timestamp() for timer in due)][-1000:]
        return len(due)

    def seconds_to_next(self) -> float:
        """How long the loop may wait: until the next timer is due, at most MAX_SLEEP_SECONDS, so a
        timer armed meanwhile by the agent is picked up promptly."""
        next_due = self.index.next_due
        if next_due is None:
            return MAX_SLEEP_SECONDS
        return min(max(next_due - self.clock.now().timestamp(), 0.0), MAX_SLEEP_SECONDS)

    async def run(self, *, ready: Callable[[], bool], owned: Owned) -> None:
        while True:
            if not ready():
                await asyncio.sleep(MAX_SLEEP_SECONDS)
                continue
            await self.fire_due(owned())
            await asyncio.sleep(self.seconds_to_next())


def command_for(timer: ScheduledTimer) -> bytes:
    return TimerCommand(user_id=timer.user_id, timer_id=timer.timer_id, due_at=timer.due_at).model_dump_json().encode()
