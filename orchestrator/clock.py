"""What time it is, injected: the worker reads the system clock, the simulator and tests a manual one.

Everything that stamps a record or decides whether something is due asks a `Clock`, so a test moves
time forward instead of sleeping and the simulator replays months of events in milliseconds.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, time-zone aware (UTC)."""
        ...


class SystemClock:
    """The wall clock, for the running worker."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to: the simulator's virtual time, and tests'."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("a clock needs an aware datetime")
        self._now = start

    def now(self) -> datetime:
        return self._now

    def set(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("a clock needs an aware datetime")
        self._now = at

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now
