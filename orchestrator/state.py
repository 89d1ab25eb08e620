"""A cache of parsed `users` table records (the record itself: nudgeflow.rules.contracts.users)."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from nudgeflow.rules.contracts.users import UserRecord


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
