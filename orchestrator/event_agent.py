"""The event agent: takes records from Faust in batches, has the handler process each batch, and
acks the batch's records only once the handler has returned.

One wait for the broker's acks per batch instead of one per record is what lets the pipeline
keep up with a real event stream (issue #10). Acks are ours (`Stream.noack_take`): Faust's own
`take_events` acks a batch in a `finally`, even when handling it raised. A record is acked, and
so committed past, only after its outputs were acknowledged by the broker and its user's state
was stored (docs/architecture.md, "Delivery guarantees").

A batch whose handling raised (the broker refused or timed out a send: the handler parks
records that fail on their own) is handled again, from the state stored before it: its outputs
carry the same ids, so consumers drop the repeats. After the last retry the error is raised and
the records stay unacked, so their offsets are never committed past.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, cast

import faust

from nudgeflow.orchestrator import metrics
from nudgeflow.orchestrator.handler import InputHandler

log = logging.getLogger(__name__)

RETRY_DELAYS_SECONDS = (0.1, 0.5, 1.0, 2.0, 5.0)


class EventAgent:
    """The `process-events` agent's body."""

    def __init__(
        self,
        handler: InputHandler,
        *,
        max_records: int,
        max_wait_seconds: float,
        retry_delays: Sequence[float] = RETRY_DELAYS_SECONDS,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.handler = handler
        self.max_records = max_records
        self.max_wait_seconds = max_wait_seconds
        self.retry_delays = tuple(retry_delays)
        self.sleep = sleep

    async def __call__(self, stream: faust.StreamT[bytes]) -> None:
        # `noack_take` is missing from Faust's StreamT interface; it yields events, acked by us.
        batches = cast(Any, stream).noack_take(self.max_records, within=self.max_wait_seconds)
        async for events in batches:
            await self.handle(events)
            for event in events:
                await stream.ack(event)

    async def handle(self, events: Sequence[Any]) -> None:
        """Handle one batch of Faust events, retrying it whole while the broker refuses its outputs."""
        messages = [event.message for event in events]
        for delay in (*self.retry_delays, None):
            try:
                await self.handler.handle_batch(messages, origins=events)
                metrics.AGENT_BATCH_RECORDS.observe(len(events))
                return
            except Exception:
                if delay is None:
                    raise
                metrics.AGENT_BATCH_RETRIES.inc()
                log.warning("handling a batch of %d records failed; again in %.1f s", len(events), delay, exc_info=True)
                await self.sleep(delay)
