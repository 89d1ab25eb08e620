"""What the inbox API answers for a user's prompts: which are in view, the unread count, and pages.

The inbox (the default view) holds what the user still has to deal with or may look back on: every
prompt except archived ones and those snoozed past now. `view=all` adds them (the worker holding
the user answers other workers with it). Pages run newest first; a cursor names the last prompt of
a page, so a prompt created meanwhile never shifts the next page.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field

from nudgeflow.channels.inapp.inbox import UserInbox
from nudgeflow.rules.contracts.prompts import Prompt, PromptStatus

View = Literal["inbox", "all"]
DEFAULT_PAGE = 50
MAX_PAGE = 500


class PromptList(BaseModel):
    user_id: str
    unread: int = Field(description="Prompts not seen yet, snoozed ones aside (for a badge).")
    prompts: list[Prompt]
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for the next page; null at the end.")

    @classmethod
    def of(cls, inbox: UserInbox, now: datetime) -> PromptList:
        """The whole row (`view=all`, one page)."""
        prompts = inbox.listing()
        return cls(user_id=inbox.user_id, unread=unread(prompts, now), prompts=prompts)


class BadCursor(ValueError):
    """A cursor this API did not hand out."""


def unread(prompts: Iterable[Prompt], now: datetime) -> int:
    return sum(1 for p in prompts if p.status is PromptStatus.PENDING and not p.hidden_at(now))


def in_view(
    prompts: Iterable[Prompt], *, now: datetime, view: View = "inbox", statuses: Iterable[PromptStatus] | None = None
) -> list[Prompt]:
    wanted = set(statuses) if statuses else None
    return [
        p
        for p in prompts
        if (wanted is None or p.status in wanted)
        and (view == "all" or (p.status is not PromptStatus.ARCHIVED and not p.hidden_at(now)))
    ]


def page(prompts: Sequence[Prompt], *, limit: int, cursor: str | None) -> tuple[list[Prompt], str | None]:
    """`prompts` newest first → the page after `cursor` and the cursor of the page after it."""
    start = 0
    if cursor:
        after = _decode(cursor)
        start = next((n for n, p in enumerate(prompts) if _position(p) < after), len(prompts))
    chosen = list(prompts[start : start + limit])
    more = start + limit < len(prompts)
    return chosen, (_encode(_position(chosen[-1])) if more and chosen else None)


def _position(prompt: Prompt) -> tuple[str, str]:
    """Orders like the listing (created_at, then delivery id), as text of one fixed width."""
    return prompt.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f"), prompt.delivery_id


def _encode(position: tuple[str, str]) -> str:
    return base64.urlsafe_b64encode("\n".join(position).encode()).decode().rstrip("=")


def _decode(cursor: str) -> tuple[str, str]:
    try:
        created_at, delivery_id = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().split("\n")
        datetime.fromisoformat(created_at)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise BadCursor(f"not a cursor of this API: {cursor!r}") from exc
    return created_at, delivery_id
