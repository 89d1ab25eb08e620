"""What the inbox API answers for a user's prompts (also what one worker forwards to another)."""

from __future__ import annotations

from pydantic import BaseModel

from nudgeflow.channels.inapp.inbox import UserInbox
from nudgeflow.rules.contracts.prompts import Prompt


class PromptList(BaseModel):
    user_id: str
    unread: int
    prompts: list[Prompt]

    @classmethod
    def of(cls, inbox: UserInbox) -> PromptList:
        return cls(user_id=inbox.user_id, unread=inbox.unread, prompts=inbox.listing())
