"""Fires due timers by publishing a command to the partition that owns the user.

Runs in every worker. After each rebalance it rebuilds its schedule from the
`users` table (the timers' source of truth) for the partitions it now owns; the
agent keeps it in step as records change. Publishing a command, instead of
firing in place, lets the agent apply the timer in order with the user's events.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from nudgeflow.orchestrator.clock import Clock, SystemClock
from nudgeflow.orchestrator.timers.schedule import ScheduledTimer, TimerSchedule
from nudgeflow.rules.contracts.timers import TimerCommand
from nudgeflow.rules.contracts.users import UserRecord

log = logging.getLogger(__name__)
MAX_SLEEP_SECONDS = 0.2

Publish = Callable[[ScheduledTimer], Awaitable[None]]
Load = Callable[[], tuple[Iterable[tuple[str, dict[str, Any]]], set[int]]]
"""The records of the `users` table and the partitions this worker owns."""


class TimerFiring:
    """Publishes each due timer once per arming; `fire_due` is one pass, `run` the worker's loop."""

    def __init__(self, publish: Publish, *, clock: Clock | None = None) -> None:
        self.schedule = TimerSchedule()
        self.clock = clock or SystemClock()
        self._publish = publish
        self._rebuild_needed = True
        self.fired = 0
        self.lag_seconds: list[float] = []

    def on_rebalance(self) -> None:
        self._rebuild_needed = True

    def track(self, user_id: str, record: UserRecord) -> None:
        """Called after every record write: the schedule mirrors the record's timers."""
        if record.partition is not None:
            self.schedule.sync_user(user_id, record.partition, record.due_times())

    def rebuild(self, records: Iterable[tuple[str, dict[str, Any]]], owned: set[int]) -> None:
        self.schedule.clear()
        for user_id, stored in records:
            record = UserRecord.model_validate(stored)
            if record.partition in owned:
                self.track(user_id, record)
        log.info("timer schedule rebuilt: %d timers on partitions %s", len(self.schedule), sorted(owned))

    async def fire_due(self, load: Load) -> int:
        """Rebuild the schedule if a rebalance asked for it, then publish every timer due by now."""
        if self._rebuild_needed:
            self._rebuild_needed = False
            self.rebuild(*load())
        now = self.clock.now().timestamp()
        due = self.schedule.pop_due(now)
        for timer in due:
            await self._publish(timer)
            self.fired += 1
            self.lag_seconds = [*self.lag_seconds[-999:], now - timer.due_at.timestamp()]
        return len(due)

    def seconds_to_next(self) -> float:
        """How long the loop may wait: until the next timer is due, at most MAX_SLEEP_SECONDS, so a
        timer armed meanwhile (by the agent, or a rebuild) is picked up promptly."""
        next_due = self.schedule.next_due()
        if next_due is None:
            return MAX_SLEEP_SECONDS
        return min(max(next_due - self.clock.now().timestamp(), 0.0), MAX_SLEEP_SECONDS)

    async def run(self, *, ready: Callable[[], bool], load: Load) -> None:
        while True:
            if not ready():
                await asyncio.sleep(MAX_SLEEP_SECONDS)
                continue
            await self.fire_due(load)
            await asyncio.sleep(self.seconds_to_next())


def command_for(timer: ScheduledTimer) -> bytes:
    return TimerCommand(user_id=timer.user_id, timer_id=timer.timer_id, due_at=timer.due_at).model_dump_json().encode()
