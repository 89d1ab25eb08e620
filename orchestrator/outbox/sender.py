"""Runs email/Slack sends in background tasks, one per delivery, with retries.

A send is owned by the worker that owns its partition of the deliveries topic:
on a rebalance, sends of partitions this worker lost are cancelled, and the new
owner resumes them from the outbox table.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from nudgeflow.channels.base import Channel, OutboundMessage
from nudgeflow.channels.outbox import Attempt, deliver_with_retries, outcome
from nudgeflow.channels.preferences.store import Allows, allow_all
from nudgeflow.channels.retry import RetryPolicy
from nudgeflow.rules.contracts.deliveries import DeliveryRequest, DeliveryResult

log = logging.getLogger(__name__)

PublishAttempt = Callable[[DeliveryRequest, Attempt], Awaitable[None]]
PublishResult = Callable[[DeliveryResult, int], Awaitable[None]]
BuildMessage = Callable[[DeliveryRequest], OutboundMessage]


class OutboxSender:
    def __init__(
        self,
        channels: dict[str, Channel],
        policy: RetryPolicy,
        *,
        concurrency: int,
        publish_attempt: PublishAttempt,
        publish_result: PublishResult,
        allows: Allows = allow_all,
        build_message: BuildMessage = OutboundMessage.from_delivery,
    ) -> None:
        self.channels = channels
        self.policy = policy
        self.allows = allows
        self.build_message = build_message
        self._concurrency = concurrency
        self._semaphore: asyncio.Semaphore | None = None
        self._publish_attempt = publish_attempt
        self._publish_result = publish_result
        self._running: dict[str, tuple[int, asyncio.Task[None]]] = {}

    def running(self, delivery_id: str) -> bool:
        return delivery_id in self._running

    def start(self, request: DeliveryRequest, partition: int) -> None:
        if request.delivery_id in self._running:
            return
        task = asyncio.create_task(self._run(request, partition), name=f"send-{request.delivery_id}")
        self._running[request.delivery_id] = (partition, task)
        task.add_done_callback(lambda _: self._running.pop(request.delivery_id, None))

    async def _run(self, request: DeliveryRequest, partition: int) -> None:
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self._concurrency)
        # The slot is held until the result is durable: at most `concurrency` deliveries per worker are
        # ever between "sending" and "result recorded", which bounds the copies a crash can cause.
        async with self._semaphore:
            result = await self._send(request)
            try:
                await self._publish_result(result, partition)
            except Exception:  # the entry stays in flight and is resumed after the next rebalance
                log.exception("could not record the result of %s", request.delivery_id)

    async def _send(self, request: DeliveryRequest) -> DeliveryResult:
        result = DeliveryResult(delivery_id=request.delivery_id, user_id=request.user_id, status="failed", attempts=0)
        channel = self.channels.get(request.channel)
        if not self.allows(request.user_id, request.channel, request.playbook_id):
            return result.model_copy(update={"status": "suppressed", "reason": "user preferences"})
        if channel is None:
            return result.model_copy(update={"reason": f"channel {request.channel!r} is not configured"})
        attempts = await deliver_with_retries(
            channel,
            self.build_message(request),
            self.policy,
            on_attempt=lambda attempt: self._publish_attempt(request, attempt),
        )
        return result.model_copy(
            update={"status": outcome(attempts), "attempts": len(attempts), "reason": attempts[-1].reason}
        )

    async def keep_only(self, partitions: set[int]) -> None:
        """After a rebalance: stop sends of partitions that moved to another worker."""
        await self._cancel([t for p, t in self._running.values() if p not in partitions])

    async def stop(self) -> None:
        await self._cancel([t for _, t in self._running.values()])

    async def _cancel(self, tasks: list[asyncio.Task[None]]) -> None:
        for task in tasks:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*tasks, return_exceptions=True)
