"""Fault plan for the provider stand-ins: what the next requests should suffer.

Tests and the demo tell a stand-in to fail instead of patching our code:
one-shot faults are consumed in order, a time window fails everything inside
it, and a delay makes responses slow (to exercise client timeouts).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Fault:
    """One forced error response. `retry_after` is set for rate limits."""

    status: int
    retry_after: float | None = None
    error: str | None = None  # provider error text/code; None = the stand-in's default for the status


class FaultPlan:
    """Mutable schedule of faults; `clock` is injectable so outage windows can run on fake time."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._queue: deque[Fault] = deque()
        self._window: tuple[float, Fault] | None = None
        self._delay: float = 0.0
        self._delay_left: int | None = None

    def fail_next(self, *, status: int = 500, count: int = 1, error: str | None = None) -> None:
        """The next `count` requests answer `status`."""
        self._queue.extend(Fault(status=status, error=error) for _ in range(count))

    def rate_limit_next(self, *, retry_after: float = 1.0, count: int = 1) -> None:
        """The next `count` requests answer 429 with the given retry-after."""
        self._queue.extend(Fault(status=429, retry_after=retry_after) for _ in range(count))

    def fail_for(self, *, seconds: float, status: int = 500, error: str | None = None) -> None:
        """Every request in the next `seconds` (by `clock`) answers `status`: an outage."""
        self._window = (self.clock() + seconds, Fault(status=status, error=error))

    def delay(self, *, seconds: float, count: int | None = None) -> None:
        """Hold each response `seconds` before answering; for `count` requests, or until cleared."""
        self._delay = seconds
        self._delay_left = count

    def clear(self) -> None:
        """Back to healthy: drop queued faults, the outage window and the delay."""
        self._queue.clear()
        self._window = None
        self._delay = 0.0
        self._delay_left = None

    def take_delay(self) -> float:
        """Delay for the request being handled now (consumes one from a counted delay)."""
        if self._delay <= 0:
            return 0.0
        seconds = self._delay
        if self._delay_left is not None:
            self._delay_left -= 1
            if self._delay_left <= 0:
                self._delay, self._delay_left = 0.0, None
        return seconds

    def take_fault(self) -> Fault | None:
        """Fault for the request being handled now: queued one-shots first, then the outage window."""
        if self._queue:
            return self._queue.popleft()
        if self._window is not None:
            until, fault = self._window
            if self.clock() < until:
                return fault
            self._window = None
        return None
