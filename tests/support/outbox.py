"""Builders for outbox unit tests: requests, a provider with outages on a fake clock, and a
sender wired to in-memory lists instead of topics."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from nudgeflow.channels.base import OutboundMessage, SendResult
from nudgeflow.channels.outbox import Attempt
from nudgeflow.channels.retry import RetryPolicy
from nudgeflow.orchestrator.outbox.breaker import CircuitBreaker
from nudgeflow.orchestrator.outbox.expiry import ExpiryPolicy
from nudgeflow.orchestrator.outbox.sender import OutboxSender
from nudgeflow.rules.contracts.deliveries import DeliveryRequest, DeliveryResult, RetryScheduled
from tests.support.clock import FakeClock


def request(n: int | str, channel: str = "email", *, kind: str = "celebration", send_at: datetime) -> DeliveryRequest:
    return DeliveryRequest(
        delivery_id=f"d-{channel}-{n}",
        kind=kind,  # type: ignore[arg-type]
        channel=channel,  # type: ignore[arg-type]
        user_id=f"u{n}",
        playbook_id="launch",
        playbook_version="v1",
        milestone_id="first_report",
        title="Well done",
        body="Your first report",
        send_at=send_at,
    )


class Provider:
    """A provider on the fake clock: down (5xx) until `down_until`, rate limited with Retry-After,
    or hanging (never answering until `release`)."""

    def __init__(self, name: str, clock: FakeClock) -> None:
        self.name = name
        self.clock = clock
        self.down_until: datetime | None = None
        self.outages: list[tuple[datetime, datetime]] = []  # further (start, end) windows
        self.retry_after: float | None = None
        self.hanging = False
        self._released = asyncio.Event()
        self.calls: list[OutboundMessage] = []
        self.sent: list[OutboundMessage] = []
        self.sent_at: dict[str, datetime] = {}

    def down_for(self, seconds: float) -> None:
        self.down_until = self.clock.now() + timedelta(seconds=seconds)

    def down_between(self, start: datetime, end: datetime) -> None:
        self.outages.append((start, end))

    def up(self, at: datetime) -> bool:
        return not any(start <= at < end for start, end in self.outages)

    def release(self) -> None:
        self.hanging = False
        self._released.set()

    async def send(self, message: OutboundMessage) -> SendResult:
        self.calls.append(message)
        if self.hanging:
            await self._released.wait()
        now = self.clock.now()
        down = any(start <= now < end for start, end in self.outages)
        if down or (self.down_until is not None and now < self.down_until):
            if self.retry_after is not None:
                return SendResult.retry(reason="ratelimited", retry_after_seconds=self.retry_after, status_code=429)
            return SendResult.retry(reason="HTTP 503", status_code=503)
        self.sent.append(message)
        self.sent_at[message.delivery_id] = now
        return SendResult.sent(provider_message_id=f"{self.name}-{len(self.sent)}")


@dataclass
class Outbox:
    """A sender whose 'topics' are lists."""

    clock: FakeClock
    providers: dict[str, Provider]
    sender: OutboxSender
    results: list[DeliveryResult] = field(default_factory=list)
    retries: list[RetryScheduled] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)

    def result(self, delivery_id: str) -> DeliveryResult | None:
        return next((r for r in self.results if r.delivery_id == delivery_id), None)


def build_outbox(
    *,
    concurrency: int = 4,
    window: float = 86400.0,
    max_age: dict[str, float] | None = None,
    breaker_failures: int = 3,
    breaker_reset: float = 60.0,
    clock: FakeClock | None = None,
    **sender_options: Any,
) -> Outbox:
    clock = clock or FakeClock()
    providers = {name: Provider(name, clock) for name in ("email", "slack")}
    outbox: Outbox

    async def publish_attempt(request: DeliveryRequest, attempt: Attempt) -> None:
        outbox.attempts.append(attempt)

    async def publish_result(result: DeliveryResult, partition: int) -> None:
        outbox.results.append(result)

    async def publish_retry(record: RetryScheduled, partition: int) -> None:
        outbox.retries.append(record)

    sender = OutboxSender(
        providers,
        RetryPolicy(max_attempts=None, base_delay=1.0, max_delay=300.0, window=window),
        concurrency=concurrency,
        publish_attempt=publish_attempt,
        publish_result=publish_result,
        publish_retry=publish_retry,
        expiry=ExpiryPolicy(max_age if max_age is not None else {"celebration": 2 * 86400.0, "nudge": 86400.0}),
        clock=clock,
        breaker=lambda: CircuitBreaker(failure_threshold=breaker_failures, reset_after=breaker_reset),
        **sender_options,
    )
    outbox = Outbox(clock=clock, providers=providers, sender=sender)
    return outbox
