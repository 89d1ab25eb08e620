"""Engine decisions as records on the outcomes topic: the audit trail analytics reads.

Every outcome id is derived from the decision (never random), so a record re-processed after a
crash produces the same id and consumers drop the copy.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from nudgeflow.rules.contracts.deliveries import DeliveryRequest
from nudgeflow.rules.contracts.outcomes import Outcome, OutcomeKind
from nudgeflow.rules.decisions import (
    ArmTimer,
    CancelTimer,
    Decision,
    DeliverySuppressed,
    Exposure,
    MilestoneCompleted,
    MilestoneUnlocked,
)


def decision_outcome(decision: Decision, user_id: str, now: datetime, *, cause: str) -> Outcome | None:
    """The outcome a decision records; None for a delivery request, whose outcome depends on
    whether it is sent now, deferred or suppressed by preferences (see `delivery_outcome`)."""
    if isinstance(decision, MilestoneCompleted):
        return Outcome.of(
            OutcomeKind.MILESTONE_COMPLETED,
            f"{user_id}:{decision.playbook_id}:{decision.milestone_id}",
            user_id=user_id,
            occurred_at=decision.completed_at,
            recorded_at=now,
            playbook_id=decision.playbook_id,
            playbook_version=decision.playbook_version,
            milestone_id=decision.milestone_id,
            attributes={"done": decision.done, "total": decision.total, "message_id": cause},
        )
    if isinstance(decision, MilestoneUnlocked):
        return Outcome.of(
            OutcomeKind.MILESTONE_UNLOCKED,
            f"{user_id}:{decision.playbook_id}:{decision.milestone_id}",
            user_id=user_id,
            occurred_at=decision.unlocked_at,
            recorded_at=now,
            playbook_id=decision.playbook_id,
            playbook_version=decision.playbook_version,
            milestone_id=decision.milestone_id,
            attributes={"unlocked_by": decision.unlocked_by},
        )
    if isinstance(decision, DeliverySuppressed):
        return Outcome.of(
            OutcomeKind.DELIVERY_SUPPRESSED,
            decision.delivery_id,
            user_id=user_id,
            occurred_at=decision.at,
            recorded_at=now,
            playbook_id=decision.playbook_id,
            playbook_version=decision.playbook_version,
            milestone_id=decision.milestone_id,
            delivery_id=decision.delivery_id,
            channel=decision.channel,
            attributes={"reason": decision.reason, "detail": decision.detail, "kind": decision.kind},
        )
    if isinstance(decision, ArmTimer):
        return Outcome.of(
            OutcomeKind.NUDGE_SCHEDULED,
            f"{decision.timer_id}:{decision.due_at.isoformat()}",
            user_id=user_id,
            occurred_at=now,
            recorded_at=now,
            playbook_id=decision.playbook_id,
            playbook_version=decision.playbook_version,
            milestone_id=decision.milestone_id,
            attributes={
                "timer_id": decision.timer_id,
                "due_at": decision.due_at.isoformat(),
                "step": decision.nudge_step,
            },
        )
    if isinstance(decision, Exposure):
        return Outcome.of(
            OutcomeKind.EXPOSURE,
            f"{user_id}:{decision.experiment}",
            user_id=user_id,
            occurred_at=decision.at,
            recorded_at=now,
            playbook_id=decision.playbook_id,
            playbook_version=decision.playbook_version,
            attributes={"experiment": decision.experiment, "variant": decision.variant},
        )
    if isinstance(decision, CancelTimer):
        return Outcome.of(
            OutcomeKind.NUDGE_CANCELLED,
            f"{decision.timer_id}:{cause}",
            user_id=user_id,
            occurred_at=now,
            recorded_at=now,
            attributes={"timer_id": decision.timer_id},
        )
    return None


def delivery_outcome(
    kind: OutcomeKind, request: DeliveryRequest, now: datetime, extra: Mapping[str, object] | None = None
) -> Outcome:
    return Outcome.of(
        kind,
        f"{request.delivery_id}:{request.channel}",
        user_id=request.user_id,
        occurred_at=now,
        recorded_at=now,
        playbook_id=request.playbook_id,
        playbook_version=request.playbook_version,
        milestone_id=request.milestone_id,
        delivery_id=request.delivery_id,
        channel=request.channel,
        attributes={"kind": request.kind, "step": request.step, **(extra or {})},
    )
