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
from typing import Any, Literal

from pydantic import AwareDatetime, Field

from nudgeflow.rules.contracts.deliveries import DeliveryRequest, MessageMedia
from nudgeflow.rules.contracts.versioning import SchemaVersion

VERSION = 1


class PromptStatus(StrEnum):
    """Lifecycle of a prompt. Status only moves forward (see `rank`)."""

    PENDING = "pending"
    SEEN = "seen"
    CLICKED = "clicked"
    DISMISSED = "dismissed"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {PromptStatus.PENDING: 0, PromptStatus.SEEN: 1, PromptStatus.CLICKED: 2, PromptStatus.DISMISSED: 3}


class Prompt(MessageMedia):
    """One in-app prompt; `cta`, `secondary_cta`, `links` and `image` (optional) come from its delivery."""

    version: SchemaVersion = VERSION
    delivery_id: str = Field(description="Idempotency key of the logical message.")
    user_id: str
    kind: Literal["celebration", "nudge"]
    title: str
    body: str
    playbook_id: str
    playbook_version: str
    milestone_id: str
    created_at: AwareDatetime
    status: PromptStatus = PromptStatus.PENDING
    status_changed_at: AwareDatetime
    data: dict[str, Any] = Field(default_factory=dict)

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

    def merge(self, incoming: Prompt) -> Prompt:
        """Combine two versions of one prompt: the further status wins, so a replayed
        creation never resets a prompt the user already saw or dismissed."""
        if incoming.status.rank > self.status.rank:
            return incoming.model_copy(update={"created_at": self.created_at})
        return self


def prompt_key(user_id: str, delivery_id: str) -> bytes:
    """Compaction key: one record per prompt, the latest status kept."""
    return f"{user_id}/{delivery_id}".encode()
