"""What the worker keeps per user in the `users` table.

Besides the engine's progress (which holds the armed stall timers), the record
keeps recent messageIds for de-duplication, deliveries deferred to a later send
time (quiet hours, caps), and the partition it lives in, so the timer scheduler
of whichever worker owns that partition can find its timers.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from nudgeflow.rules.decisions import DeliveryRequest
from nudgeflow.rules.state import UserProgress

SEND_TIMER_PREFIX = "send:"


class UserRecord(BaseModel):
    progress: UserProgress
    recent_message_ids: list[str] = Field(
        default_factory=list, description="Last N messageIds, oldest first: the de-duplication window."
    )
    deferred: dict[str, DeliveryRequest] = Field(
        default_factory=dict, description="Deliveries waiting for their send_at, by delivery_id."
    )
    partition: int | None = Field(default=None, description="Partition of the events topic owning this user.")

    @classmethod
    def new(cls, user_id: str) -> UserRecord:
        return cls(progress=UserProgress.new(user_id))

    def has_seen(self, message_id: str) -> bool:
        return message_id in self.recent_message_ids

    def remembering(self, message_id: str, window: int) -> list[str]:
        return [*self.recent_message_ids, message_id][-window:]

    def due_times(self) -> dict[str, datetime]:
        """Every timer this user has armed: stall timers and deferred sends, by timer id."""
        due = {timer_id: timer.due_at for timer_id, timer in self.progress.timers.items()}
        due.update({SEND_TIMER_PREFIX + d_id: request.send_at for d_id, request in self.deferred.items()})
        return due


class ParsedRecords:
    """Parsed records by user, reused while the table still holds the very dict they came from.

    The table stores JSON-ready dicts (its changelog format); parsing one back into a
    `UserRecord` for every event was a large share of the per-event cost.
    """

    def __init__(self, capacity: int = 20_000) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[str, tuple[dict[str, Any], UserRecord]] = OrderedDict()

    def load(self, user_id: str, stored: dict[str, Any] | None) -> UserRecord:
        if not stored:
            return UserRecord.new(user_id)
        hit = self._entries.get(user_id)
        if hit is not None and hit[0] is stored:
            self._entries.move_to_end(user_id)
            return hit[1]
        record = UserRecord.model_validate(stored)
        self.remember(user_id, stored, record)
        return record

    def remember(self, user_id: str, stored: dict[str, Any], record: UserRecord) -> None:
        self._entries[user_id] = (stored, record)
        self._entries.move_to_end(user_id)
        if len(self._entries) > self.capacity:
            self._entries.popitem(last=False)
