"""A bounded, insertion-ordered set of delivery ids this worker has finished.

Consulted before any resume or restart of a send, so a worker never sends a delivery again
that it completed itself, even when the result's record on the topic is read after a resume
marker. Bounded: the oldest ids drop out first, long after their results were read."""

from __future__ import annotations

from collections import OrderedDict


class RecentIds:
    def __init__(self, capacity: int = 100_000) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()

    def add(self, delivery_id: str) -> None:
        self._ids[delivery_id] = None
        self._ids.move_to_end(delivery_id)
        while len(self._ids) > self.capacity:
            self._ids.popitem(last=False)

    def discard(self, delivery_id: str) -> None:
        self._ids.pop(delivery_id, None)

    def __contains__(self, delivery_id: object) -> bool:
        return delivery_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)
