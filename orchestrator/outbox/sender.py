"""Runs email/Slack sends in the background, one lane per provider, with durable retries.

A send is owned by the worker that owns its partition of the deliveries topic: on a
rebalance, sends of partitions this worker lost are cancelled, and the new owner resumes
them from the outbox table, where each failed attempt left the due time of the next one.
A delivery this worker finished is remembered (bounded), so it never sends it again itself.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta

from nudgeflow.channels.base import Channel, OutboundMessage
from nudgeflow.channels.outbox import Attempt, attempt_once
from nudgeflow.channels.preferences.store import Allows, allow_all
from nudgeflow.channels.retry import RetryPolicy
from nudgeflow.orchestrator import metrics
from nudgeflow.orchestrator.outbox.breaker import CircuitBreaker
from nudgeflow.orchestrator.outbox.clock import Clock, SystemClock
from nudgeflow.orchestrator.outbox.expiry import ExpiryPolicy
from nudgeflow.orchestrator.outbox.lanes import Job, ProviderLane
from nudgeflow.orchestrator.outbox.recent import RecentIds
from nudgeflow.rules.contracts.deliveries import DeliveryRequest, DeliveryResult, FinalStatus, RetryScheduled

log = logging.getLogger(__name__)

PublishAttempt = Callable[[DeliveryRequest, Attempt], Awaitable[None]]
PublishResult = Callable[[DeliveryResult, int], Awaitable[None]]
PublishRetry = Callable[[RetryScheduled, int], Awaitable[None]]
BuildMessage = Callable[[DeliveryRequest], OutboundMessage]


async def _nothing(record: RetryScheduled, partition: int) -> None:
    """Default for callers that keep no durable schedule (tests of one send)."""


class OutboxSender:
    """`concurrency` is per provider: each lane has that many send slots of its own."""

    def __init__(
        self,
        channels: Mapping[str, Channel],
        policy: RetryPolicy,
        *,
        concurrency: int,
        publish_attempt: PublishAttempt,
        publish_result: PublishResult,
        publish_retry: PublishRetry = _nothing,
        allows: Allows = allow_all,
        build_message: BuildMessage = OutboundMessage.from_delivery,
        expiry: ExpiryPolicy | None = None,
        clock: Clock | None = None,
        breaker: Callable[[], CircuitBreaker] = CircuitBreaker,
        provider_names: Mapping[str, str] | None = None,
        remember: int = 100_000,
    ) -> None:
        self.channels = channels
        self.policy = policy
        self.allows = allows
        self.build_message = build_message
        self.expiry = expiry or ExpiryPolicy()
        self.clock: Clock = clock or SystemClock()
        self._concurrency = concurrency
        self._breaker = breaker
        self._provider_names = dict(provider_names or {})
        self._publish_attempt = publish_attempt
        self._publish_result = publish_result
        self._publish_retry = publish_retry
        self._lanes: dict[str, ProviderLane] = {}
        self._jobs: dict[str, Job] = {}
        self._completed = RecentIds(remember)

    # -- state --------------------------------------------------------------
    def running(self, delivery_id: str) -> bool:
        """Queued, waiting for its next attempt, or being sent by this worker."""
        return delivery_id in self._jobs

    def completed(self, delivery_id: str) -> bool:
        """Finished by this worker (sent or closed): never to be sent again by it."""
        return delivery_id in self._completed

    def lane(self, channel: str) -> ProviderLane:
        lane = self._lanes.get(channel)
        if lane is None:
            lane = ProviderLane(
                self._provider_names.get(channel, channel),
                concurrency=self._concurrency,
                breaker=self._breaker(),
                clock=self.clock,
                run=self._run,
                deadline=self._deadline,
            )
            self._lanes[channel] = lane
        return lane

    # -- commands -----------------------------------------------------------
    def start(
        self,
        request: DeliveryRequest,
        partition: int,
        *,
        attempts: int = 0,
        queued_at: datetime | None = None,
        due_at: datetime | None = None,
        replayed: bool = False,
    ) -> bool:
        """Queue a delivery (a new one, or one resumed at its stored attempt and due time).
        Returns False when this worker already runs or finished it."""
        if self.running(request.delivery_id) or self.completed(request.delivery_id):
            return False
        now = self.clock.now()
        job = Job(
            request=request,
            partition=partition,
            queued_at=queued_at or now,
            due_at=due_at or now,
            attempts=attempts,
            replayed=replayed,
        )
        self._jobs[request.delivery_id] = job
        self.lane(request.channel).push(job)
        return True

    def forget(self, delivery_id: str) -> None:
        """An operator replays a closed delivery: this worker may send it again."""
        self._completed.discard(delivery_id)

    async def keep_only(self, partitions: set[int]) -> None:
        """After a rebalance: stop sends of partitions that moved to another worker."""
        lost = [job for job in self._jobs.values() if job.partition not in partitions]
        for job in lost:
            del self._jobs[job.delivery_id]
        for channel, lane in self._lanes.items():
            await lane.cancel([job for job in lost if job.request.channel == channel])

    async def stop(self) -> None:
        self._jobs.clear()
        await asyncio.gather(*[lane.stop() for lane in self._lanes.values()])

    # -- one turn of one job (called by its lane, holding a send slot) -----
    def _deadline(self, job: Job) -> datetime | None:
        """When `job` must be finished even if its provider is still held back."""
        ends = []
        if self.policy.window is not None:
            ends.append(job.queued_at + timedelta(seconds=self.policy.window))
        expires = None if job.replayed else self.expiry.expires_at(job.request)
        if expires is not None:
            ends.append(expires)
        return min(ends) if ends else None

    async def _run(self, job: Job) -> None:
        request, now = job.request, self.clock.now()
        expired = None if job.replayed else self.expiry.reason(request, now)
        if expired is not None:
            await self._finish(job, "expired", expired)
            return
        if request.to_the_user and not self.allows(request.user_id, request.channel, request.playbook_id):
            await self._finish(job, "suppressed", "user preferences")
            return
        channel = self.channels.get(request.channel)
        if channel is None:
            await self._finish(job, "failed", f"channel {request.channel!r} is not configured")
            return
        elapsed = (now - job.queued_at).total_seconds()
        if self.policy.window is not None and elapsed >= self.policy.window:
            await self._finish(job, "exhausted", self._gave_up(job, elapsed))
            return
        breaker = self.lane(request.channel).breaker
        attempt = await attempt_once(
            channel,
            self.build_message(request),
            self.policy,
            number=job.attempts + 1,
            elapsed=elapsed,
            now=self.clock.now,
        )
        if attempt.status == "retry":
            breaker.failed(self.clock.now(), retry_after=attempt.retry_after_seconds)
        else:
            breaker.succeeded()
        job.attempts = attempt.attempt
        job.reason = f"HTTP {attempt.status_code}: {attempt.reason}" if attempt.status_code else attempt.reason
        try:
            await self._publish_attempt(request, attempt)
        except Exception:  # the attempt log is for analytics; the send itself stands
            log.exception("could not publish attempt %s of %s", attempt.attempt, request.delivery_id)
        if attempt.status != "retry":
            await self._finish(job, attempt.status, attempt.reason)
        elif attempt.next_delay_seconds is None:
            await self._finish(job, "exhausted", self._gave_up(job, elapsed + attempt.elapsed_seconds))
        else:
            await self._retry_later(job, attempt.next_delay_seconds)

    async def _retry_later(self, job: Job, delay: float) -> None:
        job.due_at = self.clock.now() + timedelta(seconds=delay)
        record = RetryScheduled(
            delivery_id=job.delivery_id,
            user_id=job.request.user_id,
            attempts=job.attempts,
            next_attempt_at=job.due_at,
            reason=job.reason,
        )
        try:
            await self._publish_retry(record, job.partition)
        except Exception:  # only the resume point after a crash is older: it retries sooner
            log.exception("could not record the next attempt of %s", job.delivery_id)
        if self._jobs.get(job.delivery_id) is job:  # not cancelled by a rebalance meanwhile
            self.lane(job.request.channel).push(job)

    def _gave_up(self, job: Job, elapsed: float) -> str:
        return (
            f"gave up after {job.attempts} attempt(s) over {_duration(elapsed)} "
            f"(retry window {_duration(self.policy.window or 0)}); last error: {job.reason or 'none'}"
        )

    async def _finish(self, job: Job, status: FinalStatus, reason: str | None) -> None:
        result = DeliveryResult(
            delivery_id=job.delivery_id,
            user_id=job.request.user_id,
            status=status,
            attempts=job.attempts,
            reason=reason,
            finished_at=self.clock.now(),
        )
        if result.dead_letter:
            result = result.model_copy(update={"request": job.request})
        # From here on this worker never sends it again, even if its result is read after a resume marker.
        self._completed.add(job.delivery_id)
        if self._jobs.get(job.delivery_id) is job:
            del self._jobs[job.delivery_id]
        provider = self.lane(job.request.channel).provider
        if status == "expired":
            metrics.OUTBOX_EXPIRED.labels(provider).inc()
        elif result.dead_letter:
            metrics.OUTBOX_DEAD_LETTERS.labels(provider).inc()
        try:
            await self._publish_result(result, job.partition)
        except Exception:  # the entry stays in flight; another worker resumes it after a rebalance
            log.exception("could not record the result of %s", job.delivery_id)


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
