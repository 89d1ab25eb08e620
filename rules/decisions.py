"""What the engine decided for one event: the orchestrator and simulator act on these.

Decisions are plain data. `delivery_id` is the idempotency key of one logical
message (user, playbook version, milestone, kind, step): reprocessing the same
event after a crash yields the same id, so a store can drop the copy.
"""

from __future__ import annotations

import hashlib
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field

from nudgeflow.rules.contracts.accounts import AccountSignal
from nudgeflow.rules.contracts.deliveries import DeliveryIdentity, DeliveryRequest


class MilestoneCompleted(BaseModel):
    type: Literal["milestone_completed"] = "milestone_completed"
    user_id: str
    playbook_id: str
    playbook_version: str
    milestone_id: str
    completed_at: AwareDatetime
    done: int = Field(description="Milestones of this ladder done, this one included.")
    total: int
    first_value: bool = Field(default=False, description="This is the playbook's time-to-first-value milestone.")
    since_entry_seconds: float | None = Field(default=None, description="Seconds from playbook entry to completion.")


class MilestoneUnlocked(BaseModel):
    type: Literal["milestone_unlocked"] = "milestone_unlocked"
    user_id: str
    playbook_id: str
    playbook_version: str
    milestone_id: str
    unlocked_at: AwareDatetime
    unlocked_by: str = Field(description="The milestone whose completion unlocked this one.")


SuppressReason = Literal["cap", "template_error", "stale", "holdout", "no_recipient"]


class DeliverySuppressed(DeliveryIdentity):
    """A message the rules wanted to send but deliberately did not (caps, broken template, or a
    nudge to a user held out of the playbook's experiment)."""

    type: Literal["delivery_suppressed"] = "delivery_suppressed"
    reason: SuppressReason
    detail: str = ""
    at: AwareDatetime


class Exposure(BaseModel):
    """A user entered a playbook that runs an experiment and was assigned `variant`
    ('holdout' for held-out users). Emitted once per user and experiment."""

    type: Literal["exposure"] = "exposure"
    user_id: str
    playbook_id: str
    playbook_version: str
    experiment: str
    variant: str
    at: AwareDatetime = Field(description="Event time the user entered the playbook.")


def timer_id_for(*, user_id: str, playbook_id: str, stall_key: str, step: int) -> str:
    """Stable id for one nudge step of one stall rule: re-arming the same step is idempotent."""
    raw = "\x1f".join([user_id, playbook_id, stall_key, str(step)])
    return "t-" + hashlib.sha256(raw.encode()).hexdigest()[:30]


class TimerDue(BaseModel):
    """A timer that fired: hand it to `Engine.on_timer` at or after `due_at`."""

    timer_id: str
    user_id: str
    due_at: AwareDatetime
    playbook_id: str
    milestone_id: str = Field(description="The stalled milestone the nudge is about.")
    nudge_step: int
    stall_key: str = Field(description="Which stall rule of the playbook armed it.")


class ArmTimer(TimerDue):
    """Schedule a `TimerDue` for `due_at`; arming an existing `timer_id` again replaces it."""

    type: Literal["arm_timer"] = "arm_timer"
    playbook_version: str

    def due(self) -> TimerDue:
        return TimerDue.model_validate(self.model_dump(exclude={"type", "playbook_version"}))


class CancelTimer(BaseModel):
    """Drop a pending timer (its milestone got done); unknown ids are a no-op."""

    type: Literal["cancel_timer"] = "cancel_timer"
    timer_id: str
    user_id: str


Decision = (
    MilestoneCompleted
    | MilestoneUnlocked
    | DeliveryRequest
    | DeliverySuppressed
    | ArmTimer
    | CancelTimer
    | Exposure
    | AccountSignal  # to the user's account: what the member did for its account-level milestones
)
