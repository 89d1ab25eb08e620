"""An in-memory min-heap of armed timers with lazy cancellation.

APScheduler is not used for these: it keeps a Job object per timer and its job
stores must not be shared between processes, while here a worker must hold the
timers of exactly the partitions it owns and swap them on every rebalance. A heap
of tuples plus a per-user index does that in O(log n) per change.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True, slots=True)
class ScheduledTimer:
    due_at: datetime
    user_id: str
    timer_id: str
    partition: int


class TimerSchedule:
    def __init__(self) -> None:
        self._heap: list[tuple[float, str, str, int]] = []
        self._live: dict[str, dict[str, float]] = {}  # user → timer → due (epoch seconds)
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def arm(self, timer: ScheduledTimer) -> None:
        """Arm or re-arm; re-arming the same (user, timer) moves it."""
        due = timer.due_at.timestamp()
        user = self._live.setdefault(timer.user_id, {})
        if user.get(timer.timer_id) == due:
            return
        self._count += timer.timer_id not in user
        user[timer.timer_id] = due
        heapq.heappush(self._heap, (due, timer.user_id, timer.timer_id, timer.partition))

    def cancel(self, user_id: str, timer_id: str) -> None:
        user = self._live.get(user_id)
        if user and user.pop(timer_id, None) is not None:
            self._count -= 1
            if not user:
                del self._live[user_id]

    def sync_user(self, user_id: str, partition: int, timers: dict[str, datetime]) -> None:
        """Make the schedule hold exactly `timers` (timer_id → due_at) for this user."""
        for timer_id in [t for t in self._live.get(user_id, {}) if t not in timers]:
            self.cancel(user_id, timer_id)
        for timer_id, due_at in timers.items():
            self.arm(ScheduledTimer(due_at, user_id, timer_id, partition))

    def next_due(self) -> float | None:
        """Epoch seconds of the earliest live timer."""
        self._drop_dead_head()
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: float) -> list[ScheduledTimer]:
        """Remove and return every live timer due at or before `now`."""
        due: list[ScheduledTimer] = []
        while True:
            self._drop_dead_head()
            if not self._heap or self._heap[0][0] > now:
                return due
            at, user_id, timer_id, partition = heapq.heappop(self._heap)
            self.cancel(user_id, timer_id)
            due.append(ScheduledTimer(datetime.fromtimestamp(at, UTC), user_id, timer_id, partition))

    def clear(self) -> None:
        """Before a rebalance is rebuilt from the table."""
        self._heap, self._live, self._count = [], {}, 0

    def _drop_dead_head(self) -> None:
        while self._heap:
            at, user_id, timer_id, _ = self._heap[0]
            if self._live.get(user_id, {}).get(timer_id) == at:
                return
            heapq.heappop(self._heap)
