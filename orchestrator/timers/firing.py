"""Fires due timers by publishing a command to the partition that owns the user.

Runs in every worker. After each rebalance it rebuilds its schedule from the
`users` table (the timers' source of truth) for the partitions it now owns; the
agent keeps it in step as records change. Publishing a command, instead of
firing in place, lets the agent apply the timer in order with the user's events.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from nudgeflow.orchestrator.timers.schedule import ScheduledTimer, TimerSchedule
from nudgeflow.rules.contracts.timers import TimerCommand
from nudgeflow.rules.contracts.users import UserRecord

log = logging.getLogger(__name__)
MAX_SLEEP_SECONDS = 0.2

Publish = Callable[[ScheduledTimer], Awaitable[None]]


class TimerFiring:
    def __init__(self, publish: Publish) -> None:
        self.schedule = TimerSchedule()
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

    async def run(
        self, *, ready: Callable[[], bool], load: Callable[[], tuple[Iterable[tuple[str, dict[str, Any]]], set[int]]]
    ) -> None:
        while True:
            if not ready():
                await asyncio.sleep(MAX_SLEEP_SECONDS)
                continue
            if self._rebuild_needed:
                self._rebuild_needed = False
                self.rebuild(*load())
            now = time.time()
            for timer in self.schedule.pop_due(now):
                await self._publish(timer)
                self.fired += 1
                self.lag_seconds = [*self.lag_seconds[-999:], now - timer.due_at.timestamp()]
            next_due = self.schedule.next_due()
            delay = MAX_SLEEP_SECONDS if next_due is None else min(max(next_due - time.time(), 0), MAX_SLEEP_SECONDS)
            await asyncio.sleep(delay)


def command_for(timer: ScheduledTimer) -> bytes:
    return TimerCommand(user_id=timer.user_id, timer_id=timer.timer_id, due_at=timer.due_at).model_dump_json().encode()
