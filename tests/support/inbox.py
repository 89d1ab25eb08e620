"""An in-memory inbox for API tests: rows in a dict and changes on an `InboxFeed`, standing where the
worker's `inbox` table and its changelog stand; a written prompt is applied at once, as the inbox
agent applies what the API writes to the prompts topic."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI

from nudgeflow.channels.inapp.access import Forwarded
from nudgeflow.channels.inapp.api import create_inbox_api
from nudgeflow.channels.inapp.feed import JOURNAL_SIZE, InboxFeed, Position
from nudgeflow.channels.inapp.inbox import UserInbox
from nudgeflow.channels.inapp.listing import PromptList, unread
from nudgeflow.rules.contracts.prompts import Prompt, PromptStatus


class InboxStore:
    def __init__(self, *, journal_size: int = JOURNAL_SIZE) -> None:
        self.rows: dict[str, UserInbox] = {}
        self.feed = InboxFeed(lambda user_id: 0, journal_size=journal_size)  # one partition
        self.feed.start(0, 0)
        self.offset = -1  # of the latest change on the one partition

    def apply(self, prompt: Prompt) -> Prompt:
        row = self.rows.setdefault(prompt.user_id, UserInbox(user_id=prompt.user_id))
        change = row.apply(prompt)
        merged = row.prompts[prompt.delivery_id]
        if change is not None:
            self.offset += 1
            self.feed.publish(merged, change, unread(row.listing(), datetime.now(UTC)), Position(0, self.offset))
        return merged

    async def read(self, user_id: str, headers: Mapping[str, str]) -> tuple[PromptList, str]:
        return self.read_here(user_id)

    def read_here(self, user_id: str) -> tuple[PromptList, str]:
        return PromptList.of(self.rows.get(user_id) or UserInbox(user_id=user_id), datetime.now(UTC)), "memory"

    async def forward_read(self, user_id: str, headers: Mapping[str, str], resource: str) -> Forwarded | None:
        return None  # one process holds every user

    async def forward(
        self, user_id: str, headers: Mapping[str, str], resource: str, body: dict[str, Any]
    ) -> Forwarded | None:
        return None

    async def settled(self, prompt: Prompt) -> None:
        """Written prompts are applied at once (`inbox_api`)."""

    def prompts(self, user_id: str, statuses: set[PromptStatus] | None = None) -> list[Prompt]:
        row = self.rows.get(user_id)
        return [p for p in row.listing() if not statuses or p.status in statuses] if row else []

    def get(self, user_id: str, delivery_id: str) -> Prompt | None:
        row = self.rows.get(user_id)
        return row.prompts.get(delivery_id) if row else None

    def unread_count(self, user_id: str) -> int:
        return unread(self.prompts(user_id), datetime.now(UTC))


def inbox_api(store: InboxStore, publish: Callable[[Prompt], Awaitable[None]] | None = None, **options: Any) -> FastAPI:
    """The in-app API over `store`; what it writes to the prompts topic (`publish`) is applied back."""

    async def write(prompt: Prompt) -> None:
        if publish is not None:
            await publish(prompt)
        store.apply(prompt)

    return create_inbox_api(store.feed, store, write, **options)
