"""Segment-spec events the API and webhooks publish back onto the events topic.

They go through the same worker as product events, so playbooks can react to them
(e.g. a milestone `when: {event: Prompt Clicked, where: {milestone_id: ...}}`) and
analytics can count them; events that no rule matches are ignored by the worker.
Each builder returns a dict valid against `nudgeflow.rules.contracts.events` (the unit tests check).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from nudgeflow.rules.contracts.prompts import Prompt, PromptStatus

PublishEvent = Callable[[dict[str, Any]], Awaitable[None]]

PROMPT_EVENTS = {
    PromptStatus.SEEN: "Prompt Seen",
    PromptStatus.CLICKED: "Prompt Clicked",
    PromptStatus.DISMISSED: "Prompt Dismissed",
}
SOURCE = {"library": {"name": "nudgeflow", "version": "1"}}


def track_event(
    user_id: str, event: str, properties: dict[str, Any], *, message_id: str, at: datetime
) -> dict[str, Any]:
    return {
        "type": "track",
        "messageId": message_id,
        "userId": user_id,
        "event": event,
        "properties": properties,
        "timestamp": at.isoformat(),
        "context": dict(SOURCE),
    }


def identify_event(
    user_id: str, traits: dict[str, Any], *, at: datetime, message_id: str | None = None
) -> dict[str, Any]:
    return {
        "type": "identify",
        "messageId": message_id or f"nudgeflow-identify:{uuid.uuid4()}",
        "userId": user_id,
        "traits": traits,
        "timestamp": at.isoformat(),
        "context": dict(SOURCE),
    }


def prompt_status_event(prompt: Prompt) -> dict[str, Any]:
    """ "Prompt Seen/Clicked/Dismissed" for a prompt that just reached that status.

    The messageId is derived from (delivery, status): status only moves forward, so a
    retried request publishes the same id and the worker's de-duplication drops the copy.
    """
    name = PROMPT_EVENTS[prompt.status]
    properties = {
        "delivery_id": prompt.delivery_id,
        "playbook_id": prompt.playbook_id,
        "playbook_version": prompt.playbook_version,
        "milestone_id": prompt.milestone_id,
        "kind": prompt.kind,
        "channel": "in_app",
    }
    return track_event(
        prompt.user_id,
        name,
        properties,
        message_id=f"nudgeflow-prompt:{prompt.delivery_id}:{prompt.status.value}",
        at=prompt.status_changed_at,
    )
