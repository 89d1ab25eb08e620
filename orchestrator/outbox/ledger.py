"""The outbox table's bookkeeping: what each record on the deliveries topic does to it.

Called by the outbox agent for every record, in partition order, so every table write
happens inside the stream (Faust writes the changelog to the record's partition). Kept
apart from Faust so it can be tested with a dict as the table.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import datetime, timedelta
from typing import Any

from nudgeflow.orchestrator.broker.table_partitions import partition_items
from nudgeflow.orchestrator.outbox.clock import Clock
from nudgeflow.orchestrator.outbox.sender import OutboxSender
from nudgeflow.rules.contracts.deliveries import (
    DEAD_LETTER_STATUSES,
    DeliveryRequest,
    DeliveryResult,
    OutboxEntry,
    ReplayRequest,
    RetryScheduled,
)

log = logging.getLogger(__name__)

PublishClosed = Callable[[DeliveryResult, DeliveryRequest], Awaitable[None]]


class OutboxLedger:
    """`retention`: seconds a final row is kept (it stops a replayed request from sending
    again); rows of a partition are pruned at most every `prune_every` seconds."""

    def __init__(
        self,
        table: MutableMapping[str, Any],
        sender: OutboxSender,
        *,
        clock: Clock,
        retention: float,
        publish_closed: PublishClosed,
        prune_every: float = 60.0,
    ) -> None:
        self.table = table
        self.sender = sender
        self.clock = clock
        self.retention = timedelta(seconds=retention)
        self.prune_every = timedelta(seconds=min(prune_every, retention))
        self._publish_closed = publish_closed
        self._pruned_at: dict[int, datetime] = {}

    def entry(self, delivery_id: str) -> OutboxEntry | None:
        stored = self.table.get(delivery_id)
        return OutboxEntry.model_validate(stored) if stored else None

    def _put(self, delivery_id: str, entry: OutboxEntry) -> None:
        self.table[delivery_id] = entry.model_dump(mode="json")

    async def handle(self, document: dict[str, Any], partition: int) -> None:
        """Apply one record of the deliveries topic (resume markers are the agent's business)."""
        kind = document.get("type")
        if kind == "delivery_result":
            await self.close(DeliveryResult.model_validate(document), partition)
        elif kind == "delivery_retry":
            self.scheduled(RetryScheduled.model_validate(document))
        elif kind == "delivery_replay":
            self.replay(ReplayRequest.model_validate(document), partition)
        else:
            self.request(DeliveryRequest.model_validate(document), partition)
        self.prune(partition)

    def request(self, request: DeliveryRequest, partition: int) -> None:
        if self.table.get(request.delivery_id) or self.sender.completed(request.delivery_id):
            return  # already sent, closed (maybe pruned since), or in flight (resumed after a rebalance)
        now = self.clock.now()
        self._put(
            request.delivery_id, OutboxEntry(status="in_flight", partition=partition, request=request, queued_at=now)
        )
        self.sender.start(request, partition, queued_at=now)

    def scheduled(self, record: RetryScheduled) -> None:
        entry = self.entry(record.delivery_id)
        if entry is None or entry.final:
            return
        update = {"attempts": record.attempts, "next_attempt_at": record.next_attempt_at, "reason": record.reason}
        self._put(record.delivery_id, entry.model_copy(update=update))

    async def close(self, result: DeliveryResult, partition: int) -> None:
        entry = self.entry(result.delivery_id)
        request = result.request or (entry.request if entry else None)
        final = OutboxEntry(
            status=result.status,
            partition=partition,
            attempts=result.attempts,
            queued_at=entry.queued_at if entry else None,
            finished_at=result.finished_at or self.clock.now(),
            reason=result.reason,
            request=request if result.status in DEAD_LETTER_STATUSES else None,  # kept to replay
        )
        self._put(result.delivery_id, final)
        if request is not None:
            await self._publish_closed(result, request)

    def replay(self, record: ReplayRequest, partition: int) -> None:
        entry = self.entry(record.delivery_id)
        if entry is None or entry.status not in DEAD_LETTER_STATUSES or entry.request is None:
            log.warning("replay of %s ignored: not a dead-lettered delivery", record.delivery_id)
            return
        now = self.clock.now()
        fresh = OutboxEntry(
            status="in_flight", partition=partition, request=entry.request, queued_at=now, replayed=True
        )
        self._put(record.delivery_id, fresh)
        self.sender.forget(record.delivery_id)
        self.sender.start(entry.request, partition, queued_at=now, replayed=True)

    def resume(self, partition: int) -> list[str]:
        """Restart the sends of `partition` left in flight by a worker that stopped, each at its
        stored attempt and due time. A send this worker runs or finished is never restarted."""
        resumed = []
        # The partition's sends still in flight, listed before any is restarted (a cheap check on the raw
        # row: most rows are final, kept only against replays).
        rows = partition_items(self.table, partition)
        in_flight = [(key, row) for key, row in rows if row.get("status") == "in_flight"]
        for delivery_id, stored in in_flight:
            entry = OutboxEntry.model_validate(stored)
            if entry.partition != partition or entry.request is None:
                continue
            if self.sender.running(delivery_id) or self.sender.completed(delivery_id):
                continue
            log.info("resuming delivery %s after a restart or rebalance", delivery_id)
            self.sender.start(
                entry.request,
                partition,
                attempts=entry.attempts,
                queued_at=entry.queued_at,
                due_at=entry.next_attempt_at,
                replayed=entry.replayed,
            )
            resumed.append(delivery_id)
        return resumed

    def prune(self, partition: int) -> int:
        """Delete this partition's final rows older than the retention (at most every `prune_every`)."""
        now = self.clock.now()
        last = self._pruned_at.get(partition)
        if last is not None and now - last < self.prune_every:
            return 0
        self._pruned_at[partition] = now
        before = now - self.retention
        # This partition's rows only, one at a time, keeping only the keys to delete: a list of every row
        # (the table holds a week of deliveries) made each pass a transient copy of the whole table in Python
        # objects, a peak that grew with the table and left the allocator's arenas behind it (the soak's RSS).
        old = [key for key, stored in partition_items(self.table, partition) if _prunable(stored, partition, before)]
        for delivery_id in old:
            del self.table[delivery_id]
        return len(old)


def _prunable(stored: dict[str, Any], partition: int, before: datetime) -> bool:
    """Cheap check on the raw row: a prune pass reads the whole table."""
    if stored.get("partition") != partition or stored.get("status") == "in_flight":
        return False
    finished = stored.get("finished_at")
    return finished is None or datetime.fromisoformat(finished) < before
