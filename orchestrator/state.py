"""What the worker keeps per user in the `users` table: engine progress plus recent messageIds."""

from __future__ import annotations

from pydantic import BaseModel, Field

from rules.state import UserProgress


class UserRecord(BaseModel):
    progress: UserProgress
    recent_message_ids: list[str] = Field(
        default_factory=list, description="Last N messageIds, oldest first: the de-duplication window."
    )

    @classmethod
    def new(cls, user_id: str) -> UserRecord:
        return cls(progress=UserProgress.new(user_id))

    def has_seen(self, message_id: str) -> bool:
        return message_id in self.recent_message_ids

    def after(self, progress: UserProgress, message_id: str, window: int) -> UserRecord:
        """The record once this message is processed: new progress, messageId remembered."""
        recent = [*self.recent_message_ids, message_id][-window:]
        return UserRecord(progress=progress, recent_message_ids=recent)
