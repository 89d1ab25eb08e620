"""The outcomes topic: every milestone completion and delivery, as analytics will read it.

Outcomes are published to the outcomes topic keyed by user id. `outcome_id` is
deterministic, so a consumer that sees the same outcome twice (at-least-once
processing) can drop the copy. One record type; `kind` says what happened.

Compatibility: additive changes only within a `version` (a new `kind` is additive:
consumers skip kinds they do not know); consumers ignore unknown fields; a breaking
change bumps `version` and needs a new topic or a dual-read period (docs/contracts.md).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from nudgeflow.rules.contracts.versioning import SchemaVersion

VERSION = 1


class OutcomeKind(StrEnum):
    MILESTONE_COMPLETED = "milestone_completed"
    MILESTONE_UNLOCKED = "milestone_unlocked"
    DELIVERY_REQUESTED = "delivery_requested"
    DELIVERY_ATTEMPTED = "delivery_attempted"
    DELIVERED = "delivered"
    DELIVERY_FAILED = "delivery_failed"
    DELIVERY_DEFERRED = "delivery_deferred"
    DELIVERY_SUPPRESSED = "delivery_suppressed"
    NUDGE_SCHEDULED = "nudge_scheduled"
    NUDGE_CANCELLED = "nudge_cancelled"
    PROMPT_STATE_CHANGED = "prompt_state_changed"
    EXPOSURE = "exposure"
    LINK_CLICKED = "link_clicked"  # a call to action or link of a delivered message; attributes say which
    SURVEY_ANSWERED = "survey_answered"  # an in-app micro-survey's rating (and comment): attributes


class Outcome(BaseModel):
    model_config = ConfigDict(frozen=True)

    version: SchemaVersion = VERSION
    outcome_id: str = Field(description="Deterministic id: the same outcome always has the same id.")
    kind: OutcomeKind
    user_id: str
    occurred_at: AwareDatetime = Field(description="Event time the outcome refers to.")
    recorded_at: AwareDatetime = Field(description="Wall-clock time Nudgeflow recorded it.")
    playbook_id: str | None = None
    playbook_version: str | None = None
    milestone_id: str | None = None
    delivery_id: str | None = None
    channel: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def of(
        cls, kind: OutcomeKind, key: str, *, user_id: str, occurred_at: datetime, recorded_at: datetime, **fields: Any
    ) -> Outcome:
        """Build an outcome whose id is `kind:key`, so replays produce the same id."""
        return cls(
            outcome_id=f"{kind.value}:{key}",
            kind=kind,
            user_id=user_id,
            occurred_at=occurred_at,
            recorded_at=recorded_at,
            **fields,
        )
