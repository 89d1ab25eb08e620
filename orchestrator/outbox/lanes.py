"""One lane per provider: its own queue, send slots, backoff and circuit breaker.

A provider's outage or 429 storm fills only its own lane: another provider's messages
never wait for its slots or its backoff. A delivery holds a slot only while it is being
sent and its outcome published; waiting for its next attempt (a due time in a heap, one
timer per lane) or for the breaker to close holds none.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from nudgeflow.orchestrator import metrics
from nudgeflow.orchestrator.outbox.breaker import CircuitBreaker
from nudgeflow.orchestrator.outbox.clock import Clock
from nudgeflow.rules.contracts.deliveries import DeliveryRequest

log = logging.getLogger(__name__)
# A heap entry goes stale when its job leaves the queue (launched, cancelled, re-queued); stale entries are
# dropped at the heads, and a heap is rebuilt once it holds more than twice the waiting jobs plus this many.
COMPACT_SLACK = 64


@dataclass(eq=False)
class Job:
    """One delivery waiting in, or being sent by, a lane."""

    request: DeliveryRequest
    partition: int
    queued_at: datetime
    due_at: datetime
    attempts: int = 0
    replayed: bool = False
    reason: str | None = None
    cancelled: bool = field(default=False, repr=False)

    @property
    def delivery_id(self) -> str:
        return self.request.delivery_id


Run = Callable[[Job], Awaitable[None]]
Deadline = Callable[[Job], datetime | None]


class ProviderLane:
    """`run(job)` sends (or finishes) a job; `deadline(job)` is when it must be finished even
    while the breaker holds the provider back (end of its retry window, or its expiry)."""

    def __init__(
        self,
        provider: str,
        *,
        concurrency: int,
        breaker: CircuitBreaker,
        clock: Clock,
        run: Run,
        deadline: Deadline,
    ) -> None:
        self.provider = provider
        self.concurrency = concurrency
        self.breaker = breaker
        self._clock = clock
        self._run = run
        self._deadline = deadline
        self._heap: list[tuple[datetime, int, Job]] = []
        self._order = itertools.count()
        self._deadlines: list[tuple[datetime, int, Job]] = []
        self._waiting: dict[str, Job] = {}
        self._retrying = 0
        self.sending: dict[str, asyncio.Task[None]] = {}
        self._changed = asyncio.Event()
        self._pump: asyncio.Task[None] | None = None

    # -- what callers see ---------------------------------------------------
    def push(self, job: Job) -> None:
        """Queue `job` for its `due_at`."""
        self._add(job)
        heapq.heappush(self._heap, (job.due_at, next(self._order), job))
        deadline = self._deadline(job)
        if deadline is not None:
            heapq.heappush(self._deadlines, (deadline, next(self._order), job))
        self.wake()
        if self._pump is None or self._pump.done():
            self._pump = asyncio.create_task(self._loop(), name=f"outbox-lane-{self.provider}")

    def wake(self) -> None:
        self._changed.set()

    def waiting(self) -> Iterable[Job]:
        return list(self._waiting.values())

    async def cancel(self, jobs: Iterable[Job]) -> None:
        tasks = []
        for job in jobs:
            job.cancelled = True
            self._remove(job)
            task = self.sending.get(job.delivery_id)
            if task is not None:
                task.cancel()
                tasks.append(task)
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*tasks, return_exceptions=True)

    async def stop(self) -> None:
        await self.cancel(list(self._waiting.values()))
        await asyncio.gather(*[_cancelled(t) for t in self.sending.values()], return_exceptions=True)
        if self._pump is not None:
            await _cancelled(self._pump)

    # -- the scheduler ------------------------------------------------------
    async def _loop(self) -> None:
        while True:
            self._changed.clear()
            wait = self._step(self._clock.now())
            if wait == 0.0:
                continue
            await self._wait(wait)

    def _step(self, now: datetime) -> float | None:
        """Start what may start now; return seconds until something may (None: until woken)."""
        self._drop_stale_head()
        metrics.OUTBOX_CIRCUIT.labels(self.provider).set(int(self.breaker.state))
        if not self._heap or len(self.sending) >= self.concurrency:
            return None
        due_in = (self._heap[0][0] - now).total_seconds()
        if due_in > 0:
            return due_in
        blocked = self.breaker.wait(now)
        metrics.OUTBOX_CIRCUIT.labels(self.provider).set(int(self.breaker.state))
        if blocked == 0.0:
            job = heapq.heappop(self._heap)[2]
            self.breaker.started(job.delivery_id)  # now, before another step could start a second probe
            self._launch(job)
            return 0.0
        # The breaker holds the provider back: only jobs past their deadline leave (to be finished).
        self._drop_stale_deadlines()
        if self._deadlines and self._deadlines[0][0] <= now:
            self._launch(heapq.heappop(self._deadlines)[2])
            return 0.0
        next_deadline = (self._deadlines[0][0] - now).total_seconds() if self._deadlines else None
        candidates = [s for s in (blocked, next_deadline) if s is not None]
        return min(candidates) if candidates else None

    def _drop_stale_deadlines(self) -> None:
        while self._deadlines and self._stale_deadline(self._deadlines[0]):
            heapq.heappop(self._deadlines)

    def _drop_stale_head(self) -> None:
        while self._heap and self._stale_due(self._heap[0]):
            heapq.heappop(self._heap)

    def _stale_due(self, entry: tuple[datetime, int, Job]) -> bool:
        due, _, job = entry
        return job.cancelled or self._waiting.get(job.delivery_id) is not job or job.due_at != due

    def _stale_deadline(self, entry: tuple[datetime, int, Job]) -> bool:
        return self._waiting.get(entry[2].delivery_id) is not entry[2]

    def _compact(self) -> None:
        """Drops every stale entry once they pile up. The deadlines heap needs it: a job sent on time
        leaves its entry there (its deadline, a day ahead, rarely reaches the head), and the entry holds
        the job and its request: without this, every delivery a lane ever sent stays in memory."""
        limit = 2 * len(self._waiting) + COMPACT_SLACK
        if len(self._deadlines) > limit:
            self._deadlines = [e for e in self._deadlines if not self._stale_deadline(e)]
            heapq.heapify(self._deadlines)
        if len(self._heap) > limit:
            self._heap = [e for e in self._heap if not self._stale_due(e)]
            heapq.heapify(self._heap)

    def _launch(self, job: Job) -> None:
        self._remove(job)
        task = asyncio.create_task(self._send(job), name=f"send-{job.delivery_id}")
        self.sending[job.delivery_id] = task

    async def _send(self, job: Job) -> None:
        try:
            await self._run(job)
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug must not kill the lane; the entry stays in flight and resumes later
            log.exception("outbox lane %s: sending %s failed", self.provider, job.delivery_id)
        finally:
            if self.sending.get(job.delivery_id) is asyncio.current_task():
                del self.sending[job.delivery_id]
            self.breaker.ended(job.delivery_id)
            self.wake()

    async def _wait(self, seconds: float | None) -> None:
        waiters: set[asyncio.Future[Any]] = {asyncio.ensure_future(self._changed.wait())}
        if seconds is not None:
            waiters.add(asyncio.ensure_future(self._clock.sleep(seconds)))
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    def _add(self, job: Job) -> None:
        self._waiting[job.delivery_id] = job
        self._retrying += job.attempts > 0
        self._publish_gauges()

    def _remove(self, job: Job) -> None:
        if self._waiting.get(job.delivery_id) is job:
            del self._waiting[job.delivery_id]
            self._retrying -= job.attempts > 0
            self._publish_gauges()
            self._compact()

    def _publish_gauges(self) -> None:
        metrics.OUTBOX_QUEUED.labels(self.provider).set(len(self._waiting) - self._retrying)
        metrics.OUTBOX_RETRYING.labels(self.provider).set(self._retrying)


async def _cancelled(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
