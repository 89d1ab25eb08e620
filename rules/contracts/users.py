"""The users table: what the worker keeps per user, as its changelog topic carries it.

Faust table `users` (changelog topic `<app_id>-users-changelog`, compacted), keyed by user id.
The record holds the engine's progress (which holds the armed stall timers), recent messageIds
for de-duplication, deliveries deferred to a later send time (quiet hours, caps), and the
partition it lives in, so the timer scheduler of whichever worker owns that partition can find
its timers. The rules engine reads and returns `UserProgress`; the simulator keeps them in a dict.

Compatibility: additive changes only within a `version`; consumers ignore unknown fields;
a breaking change bumps `version` and needs a new table (a new changelog topic) or a dual-read
period (docs/contracts.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, Field

from nudgeflow.rules.contracts.deliveries import DeliveryRequest
from nudgeflow.rules.contracts.versioning import SchemaVersion

VERSION = 1
SEND_TIMER_PREFIX = "send:"


class MilestoneProgress(BaseModel):
    """Where one user stands on one milestone of one playbook."""

    completed_at: AwareDatetime | None = None
    unlocked_at: AwareDatetime | None = None
    matching_events: int = Field(default=0, description="Count of events matching the milestone so far.")
    matching_times: list[AwareDatetime] = Field(
        default_factory=list, description="Times of recent matching events, for counts within a window."
    )
    celebrated: bool = False
    met_at: AwareDatetime | None = Field(
        default=None, description="Account-level milestones: when this member met `when` on their own."
    )


class PlaybookProgress(BaseModel):
    playbook_version: str
    entered_at: AwareDatetime
    milestones: dict[str, MilestoneProgress] = Field(default_factory=dict)
    experiment: str | None = Field(default=None, description="The experiment the user was enrolled in on entry.")
    variant: str | None = Field(default=None, description="Its variant for this user, or 'holdout'.")
    account_reported: str | None = Field(
        default=None,
        description="Account-level milestones: 'account id|milestones met' as last signalled to the account.",
    )


class PendingTimer(BaseModel):
    """A stall timer the engine armed and has not seen fire or cancelled yet."""

    playbook_id: str
    milestone_id: str
    stall_key: str
    step: int
    due_at: AwareDatetime


class HeldEvent(BaseModel):
    """A track event a rule reads, kept while the user was in no playbook that listens to it (their
    role not known yet): counted if they enter one later."""

    event: str
    properties: dict[str, Any] = Field(default_factory=dict)
    timestamp: AwareDatetime
    message_id: str


class UserProgress(BaseModel):
    user_id: str
    first_seen_at: AwareDatetime | None = None
    traits: dict[str, Any] = Field(default_factory=dict)
    timezone: str | None = None
    playbooks: dict[str, PlaybookProgress] = Field(default_factory=dict)
    timers: dict[str, PendingTimer] = Field(
        default_factory=dict, description="Armed stall timers by timer_id; a fired timer not listed is stale."
    )
    stalls_started: dict[str, AwareDatetime] = Field(
        default_factory=dict, description="'playbook_id/stall_key' -> when its clock started; each starts once."
    )
    exposures: dict[str, str] = Field(
        default_factory=dict,
        description="experiment id -> variant: the experiments this user was exposed to (once each).",
    )
    audiences_checked: str | None = Field(
        default=None,
        description="Ruleset version the user's traits were last checked against every playbook's audience.",
    )
    sent_per_day: dict[str, dict[str, int]] = Field(
        default_factory=dict, description="User-local date 'YYYY-MM-DD' -> {channel or '*': messages scheduled}."
    )
    held_events: list[HeldEvent] = Field(
        default_factory=list,
        description="Events a rule reads that arrived before the user was in a playbook listening to them "
        "(oldest first, bounded): replayed into each playbook the user enters.",
    )

    @classmethod
    def new(cls, user_id: str) -> UserProgress:
        return cls(user_id=user_id)

    def completed(self, playbook_id: str, milestone_id: str) -> datetime | None:
        playbook = self.playbooks.get(playbook_id)
        if playbook is None:
            return None
        milestone = playbook.milestones.get(milestone_id)
        return milestone.completed_at if milestone else None


class UserRecord(BaseModel):
    version: SchemaVersion = VERSION
    progress: UserProgress
    recent_message_ids: list[str] = Field(
        default_factory=list, description="Last N messageIds, oldest first: the de-duplication window."
    )
    deferred: dict[str, DeliveryRequest] = Field(
        default_factory=dict, description="Deliveries waiting for their send_at, by delivery_id."
    )
    partition: int | None = Field(default=None, description="Partition of the events topic owning this user.")
    merged_into: str | None = Field(
        default=None, description="An alias made this id another's (`userId` of the alias): its events go there."
    )
    merged_from: list[str] = Field(
        default_factory=list, description="Ids merged into this one by aliases (newest last, bounded)."
    )

    @classmethod
    def new(cls, user_id: str) -> UserRecord:
        return cls(progress=UserProgress.new(user_id))

    def has_seen(self, message_id: str) -> bool:
        return message_id in self.recent_message_ids

    def remembering(self, message_id: str, window: int) -> list[str]:
        return [*self.recent_message_ids, message_id][-window:]

    def due_times(self) -> dict[str, datetime]:
        """Every timer this user has armed: stall timers and deferred sends, by timer id."""
        due = {timer_id: timer.due_at for timer_id, timer in self.progress.timers.items()}
        due.update({SEND_TIMER_PREFIX + d_id: request.send_at for d_id, request in self.deferred.items()})
        return due
