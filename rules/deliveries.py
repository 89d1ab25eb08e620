"""Build DeliveryRequests: stable id, rendered title/body, channel data."""

from __future__ import annotations

from datetime import datetime

from nudgeflow.rules.contracts.deliveries import DeliveryKind, DeliveryRequest, delivery_id_for
from nudgeflow.rules.contracts.events import TrackEvent
from nudgeflow.rules.contracts.users import UserProgress
from nudgeflow.rules.decisions import DeliverySuppressed
from nudgeflow.rules.ladder import ladder_progress, milestone_view
from nudgeflow.rules.schema import Message, Milestone, Playbook
from nudgeflow.rules.templates import RenderError, build_context, render


def build_delivery(
    *,
    progress: UserProgress,
    playbook: Playbook,
    version: str,
    milestone: Milestone,
    message: Message,
    kind: DeliveryKind,
    step: int,
    now: datetime,
    event: TrackEvent | None,
) -> DeliveryRequest | DeliverySuppressed:
    """Render one message; a template that fails at send time suppresses it instead of sending junk."""
    ids = dict(user_id=progress.user_id, playbook_id=playbook.id, playbook_version=version, milestone_id=milestone.id)
    delivery_id = delivery_id_for(**ids, kind=kind, step=step, channel=message.channel)
    context = build_context(
        user_id=progress.user_id,
        traits=progress.traits,
        event_name=event.event if event else None,
        properties=event.properties if event else {},
        milestone=milestone_view(milestone),
        progress=ladder_progress(playbook, progress.playbooks[playbook.id]),
        playbook={"id": playbook.id, "name": playbook.name, "description": playbook.description},
    )
    try:
        title, body = render(message.title, context), render(message.body, context)
    except RenderError as exc:
        return DeliverySuppressed(
            delivery_id=delivery_id,
            kind=kind,
            channel=message.channel,
            step=step,
            reason="template_error",
            detail=str(exc),
            at=now,
            **ids,
        )
    data = {"traits": dict(progress.traits), "timezone": progress.timezone}
    return DeliveryRequest(
        delivery_id=delivery_id,
        kind=kind,
        channel=message.channel,
        step=step,
        title=title,
        body=body,
        send_at=now,
        data=data,
        **ids,
    )
