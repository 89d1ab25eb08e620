"""One attempt of one delivery, and a simple retry loop around it.

`attempt_once` sends once, classifies the result and asks the policy when the
next try is due; the worker's outbox schedules that try durably. For one message
outside the worker, `deliver_with_retries` loops send → classify → wait until the
message is sent, fails permanently, or the policy gives up, and returns one
`Attempt` per try (`on_attempt` publishes as it goes). Sleep and clock are
injected, so tests run on fake time.

Delivery is at-least-once: a timeout can hide an accepted send, and the retry
then produces a second copy; `delivery_id` travels with every try so downstream
consumers can drop it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict

from nudgeflow.channels.base import Channel, OutboundMessage, SendResult, SendStatus
from nudgeflow.channels.retry import RetryPolicy

log = logging.getLogger(__name__)
Outcome = Literal["sent", "failed", "exhausted"]


class Attempt(BaseModel):
    """One try of one delivery, as recorded on the deliveries topic."""

    model_config = ConfigDict(frozen=True)

    delivery_id: str
    channel: str
    attempt: int
    status: SendStatus
    started_at: AwareDatetime
    elapsed_seconds: float
    status_code: int | None = None
    reason: str | None = None
    provider_message_id: str | None = None
    retry_after_seconds: float | None = None
    next_delay_seconds: float | None = None  # None on the last attempt


async def deliver_with_retries(
    channel: Channel,
    message: OutboundMessage,
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    monotonic: Callable[[], float] = time.monotonic,
    on_attempt: Callable[[Attempt], Awaitable[None]] | None = None,
) -> list[Attempt]:
    """Send until sent, failed, or `policy` is exhausted; returns every attempt in order.

    For one message in a script or test; the worker's outbox schedules attempts itself (durably,
    per provider) with `attempt_once`."""
    attempts: list[Attempt] = []
    first = monotonic()
    while True:
        attempt = await attempt_once(
            channel,
            message,
            policy,
            number=len(attempts) + 1,
            elapsed=monotonic() - first,
            now=now,
            monotonic=monotonic,
        )
        attempts.append(attempt)
        if on_attempt is not None:
            await on_attempt(attempt)
        if attempt.next_delay_seconds is None:
            return attempts
        await sleep(attempt.next_delay_seconds)


async def attempt_once(
    channel: Channel,
    message: OutboundMessage,
    policy: RetryPolicy,
    *,
    number: int,
    elapsed: float = 0.0,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    monotonic: Callable[[], float] = time.monotonic,
) -> Attempt:
    """Try once; the attempt says what happened and, if another try is due, after how long
    (`elapsed`: seconds since the delivery was queued, for the policy's window)."""
    started_at, start = now(), monotonic()
    result = await _send_once(channel, message)
    spent = max(0.0, monotonic() - start)
    delay = None if result.is_final else policy.next_delay(number, result.retry_after_seconds, elapsed=elapsed + spent)
    return Attempt(
        delivery_id=message.delivery_id,
        channel=channel.name,
        attempt=number,
        status=result.status,
        started_at=started_at,
        elapsed_seconds=spent,
        status_code=result.status_code,
        reason=result.reason,
        provider_message_id=result.provider_message_id,
        retry_after_seconds=result.retry_after_seconds,
        next_delay_seconds=delay,
    )


def outcome(attempts: Sequence[Attempt]) -> Outcome:
    """How a delivery ended: its last attempt's status, with an unfinished retry as "exhausted"."""
    if not attempts:
        raise ValueError("no attempts")
    last = attempts[-1].status
    return "exhausted" if last == "retry" else last


async def _send_once(channel: Channel, message: OutboundMessage) -> SendResult:
    """A channel that raises has a bug, not an outage: record it as a permanent failure."""
    try:
        return await channel.send(message)
    except asyncio.CancelledError:
        raise
    except Exception as error:  # noqa: BLE001 - the attempt log must capture it
        log.exception("channel %s raised while sending %s", channel.name, message.delivery_id)
        return SendResult.failed(reason=f"{type(error).__name__}: {error}")
