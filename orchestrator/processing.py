"""One event through the engine: the straight line event → rules → prompts/deliveries/outcomes.

Pure: no Kafka here, so it is tested without a broker and reused by benchmarks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from channels.inapp.models import Prompt
from events.outcomes import Outcome, OutcomeKind
from events.segment import IdentifyEvent, TrackEvent
from orchestrator.state import UserRecord
from rules.decisions import DeliveryRequest, MilestoneCompleted, MilestoneUnlocked
from rules.engine import Engine


@dataclass(slots=True)
class Processed:
    record: UserRecord
    prompts: list[Prompt] = field(default_factory=list)
    deliveries: list[DeliveryRequest] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    duplicate: bool = False


def process_event(record: UserRecord, event: TrackEvent | IdentifyEvent, *, engine: Engine,
                  now: datetime, dedupe_window: int) -> Processed:
    """Apply one event to one user's record. A messageId already seen changes nothing."""
    if record.has_seen(event.messageId):
        return Processed(record=record, duplicate=True)
    result = engine.on_event(record.progress, event, now)
    processed = Processed(record=record.after(result.progress, event.messageId, dedupe_window))
    user_id = event.userId
    for decision in result.decisions:
        if isinstance(decision, MilestoneCompleted):
            processed.outcomes.append(Outcome.of(
                OutcomeKind.MILESTONE_COMPLETED, f"{user_id}:{decision.playbook_id}:{decision.milestone_id}",
                user_id=user_id, occurred_at=decision.completed_at, recorded_at=now,
                playbook_id=decision.playbook_id, playbook_version=decision.playbook_version,
                milestone_id=decision.milestone_id,
                attributes={"done": decision.done, "total": decision.total, "message_id": event.messageId}))
        elif isinstance(decision, MilestoneUnlocked):
            processed.outcomes.append(Outcome.of(
                OutcomeKind.MILESTONE_UNLOCKED, f"{user_id}:{decision.playbook_id}:{decision.milestone_id}",
                user_id=user_id, occurred_at=decision.unlocked_at, recorded_at=now,
                playbook_id=decision.playbook_id, playbook_version=decision.playbook_version,
                milestone_id=decision.milestone_id, attributes={"unlocked_by": decision.unlocked_by}))
        elif isinstance(decision, DeliveryRequest):
            _route_delivery(processed, decision, now)
    return processed


def _route_delivery(processed: Processed, request: DeliveryRequest, now: datetime) -> None:
    """In-app prompts are written straight to the inbox (idempotent by delivery id);
    email and Slack go to the deliveries topic for their channel's outbox."""
    common = dict(user_id=request.user_id, occurred_at=now, recorded_at=now,
                  playbook_id=request.playbook_id, playbook_version=request.playbook_version,
                  milestone_id=request.milestone_id, delivery_id=request.delivery_id, channel=request.channel)
    attributes = {"kind": request.kind, "step": request.step}
    if request.channel == "in_app":
        processed.prompts.append(Prompt.from_delivery(request, now=now))
        processed.outcomes.append(Outcome.of(OutcomeKind.DELIVERED, f"{request.delivery_id}:in_app",
                                             attributes=attributes, **common))
    else:
        processed.deliveries.append(request)
        processed.outcomes.append(Outcome.of(OutcomeKind.DELIVERY_REQUESTED, request.delivery_id,
                                             attributes=attributes, **common))
