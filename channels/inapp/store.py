"""In-memory inbox: the prompts topic materialized per user, with change listeners."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from nudgeflow.rules.contracts.prompts import Prompt, PromptStatus

Change = Literal["created", "updated"]
Listener = Callable[[Prompt, Change], None]


class InboxStore:
    """Applies prompt records idempotently; listeners hear about each real change once."""

    def __init__(self) -> None:
        self._by_user: dict[str, dict[str, Prompt]] = {}
        self._listeners: list[Listener] = []

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
        for listener in list(self._listeners):
            listener(merged, change)
        return merged

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
