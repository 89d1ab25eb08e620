"""The prompts topic: in-app prompts, one record per prompt with its latest status.

Compacted, keyed by `prompt_key(user_id, delivery_id)`. Workers publish a prompt when a
celebration or nudge is delivered in-app; the API publishes the same record again with a
further status when the user sees, clicks or dismisses it. Every API replica materializes
the topic into memory.

Compatibility: additive changes only within a `version`; consumers ignore unknown fields;
a breaking change bumps `version` and needs a new topic or a dual-read period
(docs/contracts.md).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, Field

from nudgeflow.rules.contracts.deliveries import DeliveryKind, DeliveryRequest, MessageMedia
from nudgeflow.rules.contracts.versioning import SchemaVersion

VERSION = 1


class PromptStatus(StrEnum):
    """Lifecycle of a prompt. Status only moves forward (see `rank`): archived is the last
    resting place of any prompt (kept, out of the inbox), dismissed means "not for me"."""

    PENDING = "pending"
    SEEN = "seen"
    CLICKED = "clicked"
    DISMISSED = "dismissed"
    ARCHIVED = "archived"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {
    PromptStatus.PENDING: 0,
    PromptStatus.SEEN: 1,
    PromptStatus.CLICKED: 2,
    PromptStatus.DISMISSED: 3,
    PromptStatus.ARCHIVED: 4,
}


class SurveyAnswer(BaseModel):
    """The user's answer to the prompt's survey: given once."""

    rating: int = Field(ge=1, le=10)
    comment: str | None = Field(default=None, max_length=2000)
    answered_at: AwareDatetime


class Prompt(MessageMedia):
    """One in-app prompt; `cta`, `secondary_cta`, `links` and `image` (optional) come from its delivery."""

    version: SchemaVersion = VERSION
    delivery_id: str = Field(description="Idempotency key of the logical message.")
    user_id: str
    kind: DeliveryKind
    title: str
    body: str
    playbook_id: str
    playbook_version: str
    milestone_id: str
    created_at: AwareDatetime
    status: PromptStatus = PromptStatus.PENDING
    status_changed_at: AwareDatetime
    snoozed_until: AwareDatetime | None = Field(
        default=None, description="Hidden from the inbox and its counts until then (the user snoozed it)."
    )
    snoozed_at: AwareDatetime | None = Field(default=None, description="When the latest snooze was set or lifted.")
    data: dict[str, Any] = Field(default_factory=dict)
    answer: SurveyAnswer | None = Field(default=None, description="The answer to its `survey`, once given.")

    @classmethod
    def from_delivery(cls, request: DeliveryRequest, *, now: datetime) -> Prompt:
        return cls(
            delivery_id=request.delivery_id,
            user_id=request.user_id,
            kind=request.kind,
            title=request.title,
            body=request.body,
            playbook_id=request.playbook_id,
            playbook_version=request.playbook_version,
            milestone_id=request.milestone_id,
            created_at=now,
            status_changed_at=now,
            data=request.data,
            **request.media(),
        )

    def with_status(self, status: PromptStatus, *, at: datetime) -> Prompt:
        return self.model_copy(update={"status": status, "status_changed_at": at})

    def snoozed(self, until: datetime | None, *, at: datetime) -> Prompt:
        """Snoozed until `until` (None: snooze lifted), as of `at`."""
        return self.model_copy(update={"snoozed_until": until, "snoozed_at": at})

    def hidden_at(self, now: datetime) -> bool:
        """Snoozed past `now`: out of the inbox listing and its counts for now."""
        return self.snoozed_until is not None and self.snoozed_until > now

    def merge(self, incoming: Prompt) -> Prompt:
        """Combine two versions of one prompt, in any order with the same result: the further status
        wins (at equal status, the first time it was reached), so a replayed creation never resets a
        prompt the user already saw or dismissed; the latest snooze wins; the first creation time
        stays, and so does the first survey answer. Returns `self` itself when `incoming` adds nothing."""
        update: dict[str, Any] = {}
        if (incoming.status.rank, self.status_changed_at) > (self.status.rank, incoming.status_changed_at):
            update |= {"status": incoming.status, "status_changed_at": incoming.status_changed_at}
        if incoming.created_at < self.created_at:
            update["created_at"] = incoming.created_at
        if incoming.answer is not None and (
            self.answer is None or incoming.answer.answered_at < self.answer.answered_at
        ):
            update["answer"] = incoming.answer  # the first answer stays
        if incoming.snoozed_at is not None and (
            self.snoozed_at is None
            or (incoming.snoozed_at, _instant(incoming.snoozed_until)) > (self.snoozed_at, _instant(self.snoozed_until))
        ):
            update |= {"snoozed_until": incoming.snoozed_until, "snoozed_at": incoming.snoozed_at}
        return self.model_copy(update=update) if update else self


def _instant(moment: datetime | None) -> float:
    return moment.timestamp() if moment is not None else float("-inf")


def prompt_key(user_id: str, delivery_id: str) -> bytes:
    """Compaction key: one record per prompt, the latest status kept."""
    return f"{user_id}/{delivery_id}".encode()
