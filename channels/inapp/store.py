"""In-memory inbox: the prompts topic materialized per user, with change listeners and a short journal.

Every real change gets the next sequence number of this store. The journal keeps the latest
changes so a live stream that reconnects (SSE `Last-Event-ID`) gets exactly what it missed
instead of the whole inbox again. Sequence numbers only mean something in this process: `epoch`
tells a stream id from another replica or an earlier run apart.
"""

from __future__ import annotations

import secrets
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from nudgeflow.rules.contracts.prompts import Prompt, PromptStatus

Change = Literal["created", "updated"]
Listener = Callable[[Prompt, Change], None]
JOURNAL_SIZE = 10_000


@dataclass(frozen=True)
class JournalEntry:
    sequence: int
    prompt: Prompt
    change: Change


class InboxStore:
    """Applies prompt records idempotently; listeners hear about each real change once."""

    def __init__(self, *, journal_size: int = JOURNAL_SIZE) -> None:
        self._by_user: dict[str, dict[str, Prompt]] = {}
        self._listeners: list[Listener] = []
        self._journal: deque[JournalEntry] = deque(maxlen=journal_size)
        self.sequence = 0  # of the latest change; listeners read it for the change they hear about
        self.epoch = secrets.token_hex(4)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def apply(self, prompt: Prompt) -> Prompt:
        inbox = self._by_user.setdefault(prompt.user_id, {})
        existing = inbox.get(prompt.delivery_id)
        merged = prompt if existing is None else existing.merge(prompt)
        if merged is existing:
            return existing
        inbox[prompt.delivery_id] = merged
        change: Change = "created" if existing is None else "updated"
        self.sequence += 1
        self._journal.append(JournalEntry(self.sequence, merged, change))
        for listener in list(self._listeners):
            listener(merged, change)
        return merged

    def changes_since(self, user_id: str, sequence: int) -> list[JournalEntry] | None:
        """A user's changes after `sequence`, oldest first; None when the journal no longer reaches back."""
        if sequence < 0 or sequence > self.sequence:
            return None
        oldest = self._journal[0].sequence if self._journal else self.sequence + 1
        if sequence < oldest - 1:
            return None
        return [entry for entry in self._journal if entry.sequence > sequence and entry.prompt.user_id == user_id]

    def prompts(self, user_id: str, statuses: set[PromptStatus] | None = None) -> list[Prompt]:
        """A user's prompts, newest first, optionally only some statuses."""
        items = self._by_user.get(user_id, {}).values()
        selected = [p for p in items if statuses is None or p.status in statuses]
        return sorted(selected, key=lambda p: p.created_at, reverse=True)

    def get(self, user_id: str, delivery_id: str) -> Prompt | None:
        return self._by_user.get(user_id, {}).get(delivery_id)

    def unread_count(self, user_id: str) -> int:
        return sum(1 for p in self._by_user.get(user_id, {}).values() if p.status is PromptStatus.PENDING)

    def users(self) -> list[str]:
        return sorted(self._by_user)

    def total(self) -> int:
        return sum(len(inbox) for inbox in self._by_user.values())
