"""Per-user onboarding progress: the state the rules engine reads and returns.

The orchestrator keeps one `UserProgress` per user in a changelog-backed Faust
table; the simulator keeps them in a dict. The engine never does I/O.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, Field


class MilestoneProgress(BaseModel):
    """Where one user stands on one milestone of one playbook."""

    completed_at: AwareDatetime | None = None
    unlocked_at: AwareDatetime | None = None
    matching_events: int = Field(default=0, description="Count of events matching the milestone so far.")
    matching_times: list[AwareDatetime] = Field(
        default_factory=list, description="Times of recent matching events, for counts within a window."
    )
    celebrated: bool = False


class PlaybookProgress(BaseModel):
    playbook_version: str
    entered_at: AwareDatetime
    milestones: dict[str, MilestoneProgress] = Field(default_factory=dict)
    experiment: str | None = Field(default=None, description="The experiment the user was enrolled in on entry.")
    variant: str | None = Field(default=None, description="Its variant for this user, or 'holdout'.")


class PendingTimer(BaseModel):
    """A stall timer the engine armed and has not seen fire or cancelled yet."""

    playbook_id: str
    milestone_id: str
    stall_key: str
    step: int
    due_at: AwareDatetime


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

    @classmethod
    def new(cls, user_id: str) -> UserProgress:
        return cls(user_id=user_id)

    def completed(self, playbook_id: str, milestone_id: str) -> datetime | None:
        playbook = self.playbooks.get(playbook_id)
        if playbook is None:
            return None
        milestone = playbook.milestones.get(milestone_id)
        return milestone.completed_at if milestone else None
