"""A clock tests advance by hand: `sleep` waits for `advance`, never for real time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta


class FakeClock:
    def __init__(self, start: datetime = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)) -> None:
        self._now = start
        self._waiters: list[tuple[datetime, asyncio.Future[None]]] = []

    def now(self) -> datetime:
        return self._now

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((self._now + timedelta(seconds=max(seconds, 0.0)), future))
        self._wake()
        await future

    async def advance(self, seconds: float) -> None:
        """Move time on, wake every sleeper now due, and let the woken tasks run."""
        self._now += timedelta(seconds=seconds)
        self._wake()
        await settle()

    def _wake(self) -> None:
        keep = []
        for due, future in self._waiters:
            if future.done():
                continue
            if due <= self._now:
                future.set_result(None)
            else:
                keep.append((due, future))
        self._waiters = keep


async def settle(rounds: int = 50) -> None:
    """Let every ready task run until the loop is quiet (no time passes)."""
    loop = asyncio.get_running_loop()
    for _ in range(rounds):
        tick: asyncio.Future[None] = loop.create_future()
        loop.call_soon(tick.set_result, None)
        await tick
