"""One event or one fired timer through the engine: the straight line
event → rules → prompts / deliveries / outcomes, with deferred sends held back.

Pure: no Kafka here, so it is tested without a broker and reused by benchmarks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from nudgeflow.channels.preferences.store import Allows, allow_all
from nudgeflow.rules.contracts.deliveries import DeliveryRequest
from nudgeflow.rules.contracts.events import IdentifyEvent, TrackEvent
from nudgeflow.rules.contracts.outcomes import Outcome, OutcomeKind
from nudgeflow.rules.contracts.prompts import Prompt
from nudgeflow.rules.contracts.users import SEND_TIMER_PREFIX, UserRecord
from nudgeflow.rules.decisions import (
    ArmTimer,
    CancelTimer,
    Decision,
    DeliverySuppressed,
    Exposure,
    MilestoneCompleted,
    MilestoneUnlocked,
    TimerDue,
)
from nudgeflow.rules.engine import Engine

SEND_NOW_TOLERANCE = timedelta(seconds=1)  # a send_at this close to now is sent now


@dataclass(slots=True)
class Processed:
    record: UserRecord
    prompts: list[Prompt] = field(default_factory=list)
    deliveries: list[DeliveryRequest] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    duplicate: bool = False
    unchanged: bool = False


def process_event(
    record: UserRecord,
    event: TrackEvent | IdentifyEvent,
    *,
    engine: Engine,
    now: datetime,
    dedupe_window: int,
    allows: Allows = allow_all,
) -> Processed:
    """Apply one event to one user's record. A messageId already seen changes nothing."""
    if record.has_seen(event.messageId):
        return Processed(record=record, duplicate=True)
    result = engine.on_event(record.progress, event, now)
    if not result.decisions and result.progress == record.progress:
        # Nothing to remember: replaying this event later changes nothing either, so it needs
        # no de-duplication entry, and the worker skips the state write (most product events).
        return Processed(record=record, unchanged=True)
    updated = record.model_copy(
        update={"progress": result.progress, "recent_message_ids": record.remembering(event.messageId, dedupe_window)}
    )
    return _apply(updated, result.decisions, now, cause=event.messageId, allows=allows)


def process_timer(
    record: UserRecord, timer_id: str, due_at: datetime, *, engine: Engine, now: datetime, allows: Allows = allow_all
) -> Processed | None:
    """A timer fired. None when it is no longer armed (cancelled, moved, or already fired)."""
    if timer_id.startswith(SEND_TIMER_PREFIX):
        request = record.deferred.get(timer_id.removeprefix(SEND_TIMER_PREFIX))
        if request is None or request.send_at > due_at:
            return None
        remaining = {k: v for k, v in record.deferred.items() if k != request.delivery_id}
        processed = Processed(record=record.model_copy(update={"deferred": remaining}))
        _send(processed, request, now, allows)
        return processed
    pending = record.progress.timers.get(timer_id)
    if pending is None or pending.due_at > due_at:
        return None
    timer = TimerDue(
        timer_id=timer_id,
        user_id=record.progress.user_id,
        due_at=pending.due_at,
        playbook_id=pending.playbook_id,
        milestone_id=pending.milestone_id,
        nudge_step=pending.step,
        stall_key=pending.stall_key,
    )
    result = engine.on_timer(record.progress, timer, now)
    return _apply(
        record.model_copy(update={"progress": result.progress}), result.decisions, now, cause=timer_id, allows=allows
    )


def _apply(record: UserRecord, decisions: list[Decision], now: datetime, *, cause: str, allows: Allows) -> Processed:
    processed = Processed(record=record)
    user_id = record.progress.user_id
    for decision in decisions:
        if isinstance(decision, MilestoneCompleted):
            processed.outcomes.append(
                Outcome.of(
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
            )
        elif isinstance(decision, MilestoneUnlocked):
            processed.outcomes.append(
                Outcome.of(
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
            )
        elif isinstance(decision, DeliveryRequest):
            if decision.send_at - now > SEND_NOW_TOLERANCE:
                processed.record = processed.record.model_copy(
                    update={"deferred": {**processed.record.deferred, decision.delivery_id: decision}}
                )
                processed.outcomes.append(
                    _delivery_outcome(
                        OutcomeKind.DELIVERY_DEFERRED, decision, now, {"send_at": decision.send_at.isoformat()}
                    )
                )
            else:
                _send(processed, decision, now, allows)
        elif isinstance(decision, DeliverySuppressed):
            processed.outcomes.append(
                Outcome.of(
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
            )
        elif isinstance(decision, ArmTimer):
            processed.outcomes.append(
                Outcome.of(
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
            )
        elif isinstance(decision, Exposure):
            processed.outcomes.append(
                Outcome.of(
                    OutcomeKind.EXPOSURE,
                    f"{user_id}:{decision.experiment}",
                    user_id=user_id,
                    occurred_at=decision.at,
                    recorded_at=now,
                    playbook_id=decision.playbook_id,
                    playbook_version=decision.playbook_version,
                    attributes={"experiment": decision.experiment, "variant": decision.variant},
                )
            )
        elif isinstance(decision, CancelTimer):
            processed.outcomes.append(
                Outcome.of(
                    OutcomeKind.NUDGE_CANCELLED,
                    f"{decision.timer_id}:{cause}",
                    user_id=user_id,
                    occurred_at=now,
                    recorded_at=now,
                    attributes={"timer_id": decision.timer_id},
                )
            )
    return processed


def _send(processed: Processed, request: DeliveryRequest, now: datetime, allows: Allows) -> None:
    """In-app prompts are written straight to the inbox (idempotent by delivery id), if the user's
    preferences allow; email and Slack go to the deliveries topic, and their outbox checks the
    preferences when it sends."""
    if request.channel == "in_app" and not allows(request.user_id, "in_app", request.playbook_id):
        processed.outcomes.append(
            _delivery_outcome(OutcomeKind.DELIVERY_SUPPRESSED, request, now, {"reason": "preferences"})
        )
    elif request.channel == "in_app":
        processed.prompts.append(Prompt.from_delivery(request, now=now))
        processed.outcomes.append(_delivery_outcome(OutcomeKind.DELIVERED, request, now))
    else:
        processed.deliveries.append(request)
        processed.outcomes.append(_delivery_outcome(OutcomeKind.DELIVERY_REQUESTED, request, now))


def _delivery_outcome(
    kind: OutcomeKind, request: DeliveryRequest, now: datetime, extra: dict[str, object] | None = None
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
