"""One user's inbox, as the worker holding the user keeps it: a row of the `inbox` table.

The row holds the user's prompts and what its latest change was, so a live stream reading the
table's changelog on any replica knows which prompt changed and the unread count that goes with it,
without holding anyone's inbox itself.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from nudgeflow.rules.contracts.prompts import Prompt, PromptStatus

Change = Literal["created", "updated"]
MAX_PROMPTS_PER_USER = 500
"""Beyond this, the oldest archived or dismissed prompts go first, then the oldest of all."""


class LastChange(BaseModel):
    delivery_id: str
    change: Change


class UserInbox(BaseModel):
    user_id: str
    prompts: dict[str, Prompt] = Field(default_factory=dict)
    last: LastChange | None = None

    @classmethod
    def load(cls, user_id: str, stored: Any) -> UserInbox:
        """The table's value (a JSON document), or an empty inbox."""
        return cls(user_id=user_id) if stored is None else cls.model_validate(stored)

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def apply(self, prompt: Prompt) -> Change | None:
        """Merge one prompt record (a creation, or a further status); None when nothing changed, so a
        replayed record neither rewrites the row nor reaches live streams twice."""
        existing = self.prompts.get(prompt.delivery_id)
        merged = prompt if existing is None else existing.merge(prompt)
        if merged is existing:
            return None
        self.prompts[prompt.delivery_id] = merged
        change: Change = "created" if existing is None else "updated"
        self.last = LastChange(delivery_id=prompt.delivery_id, change=change)
        self._trim()
        return change

    def changed_prompt(self) -> Prompt | None:
        return self.prompts.get(self.last.delivery_id) if self.last is not None else None

    def listing(self) -> list[Prompt]:
        """Every prompt, newest first (channels/inapp/listing.py picks what is in view)."""
        return sorted(self.prompts.values(), key=lambda p: (p.created_at, p.delivery_id), reverse=True)

    def _trim(self) -> None:
        excess = len(self.prompts) - MAX_PROMPTS_PER_USER
        if excess <= 0:
            return
        # Archived and dismissed first, then by age; the prompt just applied stays.
        keep = self.last.delivery_id if self.last else None
        candidates = sorted(
            (p for p in self.prompts.values() if p.delivery_id != keep),
            key=lambda p: (p.status.rank < PromptStatus.DISMISSED.rank, p.created_at),
        )
        for prompt in candidates[:excess]:
            del self.prompts[prompt.delivery_id]
