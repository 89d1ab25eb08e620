"""Segment-spec events the API and webhooks publish back onto the events topic.

They go through the same worker as product events, so playbooks can react to them
(e.g. a milestone `when: {event: Prompt Clicked, where: {milestone_id: ...}}`) and
analytics can count them; events that no rule matches are ignored by the worker.
Each builder returns a dict valid against `nudgeflow.rules.contracts.events` (the unit tests check).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from nudgeflow.rules.contracts.events import IdentifyEvent, TrackEvent
from nudgeflow.rules.contracts.outcomes import Outcome, OutcomeKind
from nudgeflow.rules.contracts.prompts import Prompt, PromptStatus

PublishEvent = Callable[[dict[str, Any]], Awaitable[None]]

PROMPT_EVENTS = {
    PromptStatus.SEEN: "Prompt Seen",
    PromptStatus.CLICKED: "Prompt Clicked",
    PromptStatus.DISMISSED: "Prompt Dismissed",
    PromptStatus.ARCHIVED: "Prompt Archived",
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


def prompt_status_event(prompt: Prompt, *, link: str | None = None) -> dict[str, Any]:
    """ "Prompt Seen/Clicked/Dismissed/Archived" for a prompt that just reached that status.

    The messageId is derived from (delivery, status): status only moves forward, so a
    retried request publishes the same id and the worker's de-duplication drops the copy.
    A click on one of the prompt's links (`cta`, `secondary_cta`, `links.N`) names it and its
    URL, with one messageId per link: each link's click-through counts once.
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
    message_id = f"nudgeflow-prompt:{prompt.delivery_id}:{prompt.status.value}"
    target = prompt.link_at(link) if link else None
    if link and target is not None:
        properties.update(link=link, url=target.url, label=target.label)
        message_id += f":{link}"
    return track_event(prompt.user_id, name, properties, message_id=message_id, at=prompt.status_changed_at)


LINK_CLICKED = "Link Clicked"


@dataclass(frozen=True)
class LinkClick:
    """What a tracked link names: the delivery and which of its links (`cta`, `secondary_cta`, `links.N`)."""

    user_id: str
    delivery_id: str
    link: str
    url: str
    channel: str
    playbook_id: str = ""
    playbook_version: str = ""
    milestone_id: str = ""
    kind: str = ""


def link_clicked_event(click: LinkClick, *, at: datetime) -> dict[str, Any]:
    """ "Link Clicked" when a tracked email/Slack link is followed (`GET /v1/r/{token}`); once per link."""
    properties = {
        "delivery_id": click.delivery_id,
        "playbook_id": click.playbook_id,
        "playbook_version": click.playbook_version,
        "milestone_id": click.milestone_id,
        "kind": click.kind,
        "channel": click.channel,
        "link": click.link,
        "url": click.url,
    }
    message_id = f"nudgeflow-link:{click.delivery_id}:{click.link}"
    return track_event(click.user_id, LINK_CLICKED, properties, message_id=message_id, at=at)


SURVEY_ANSWERED = "Survey Answered"


def survey_answered_event(prompt: Prompt) -> dict[str, Any]:
    """ "Survey Answered" for the answer to a prompt's micro-survey; one per prompt (its messageId)."""
    answer, survey = prompt.answer, prompt.survey
    if answer is None or survey is None:
        raise ValueError(f"prompt {prompt.delivery_id} has no survey answer")
    properties = {
        "delivery_id": prompt.delivery_id,
        "playbook_id": prompt.playbook_id,
        "playbook_version": prompt.playbook_version,
        "milestone_id": prompt.milestone_id,
        "kind": prompt.kind,
        "channel": "in_app",
        "question": survey.question,
        "scale": survey.scale,
        "rating": answer.rating,
        "comment": answer.comment,
    }
    message_id = f"nudgeflow-survey:{prompt.delivery_id}"
    return track_event(prompt.user_id, SURVEY_ANSWERED, properties, message_id=message_id, at=answer.answered_at)


CLICK_EVENTS = frozenset({PROMPT_EVENTS[PromptStatus.CLICKED], LINK_CLICKED})
RECORDED_EVENTS = CLICK_EVENTS | {SURVEY_ANSWERED}
"""Events the worker records as outcomes for analytics, whether or not a rule reads them."""


def recorded_outcome(event: TrackEvent | IdentifyEvent, now: datetime) -> Outcome | None:
    """The outcome a click or a survey answer records (None for other events)."""
    if isinstance(event, TrackEvent) and event.event == SURVEY_ANSWERED:
        return survey_outcome(event, now)
    return link_click_outcome(event, now)


def survey_outcome(event: TrackEvent, now: datetime) -> Outcome | None:
    """The `survey_answered` outcome: the rating (1..scale) and the comment, for the dashboard."""
    props = event.properties
    delivery_id, rating, scale = props.get("delivery_id"), props.get("rating"), props.get("scale")
    if (
        not isinstance(delivery_id, str)
        or type(rating) is not int
        or type(scale) is not int
        or not 1 <= rating <= scale
    ):
        return None
    comment = _text(props, "comment")
    attributes = {
        "rating": rating,
        "scale": scale,
        "comment": comment if comment and comment.strip() else None,
        "question": _text(props, "question"),
    }
    return _prompt_outcome(OutcomeKind.SURVEY_ANSWERED, f"{delivery_id}:survey", event, now, "in_app", attributes)


def is_click(event: TrackEvent | IdentifyEvent) -> bool:
    """A click on a message or one of its links, from the in-app API or the redirect endpoint."""
    return isinstance(event, TrackEvent) and event.event in CLICK_EVENTS


def link_click_outcome(event: TrackEvent | IdentifyEvent, now: datetime) -> Outcome | None:
    """The `link_clicked` outcome analytics counts, for a click on a message's link (any channel)."""
    if not isinstance(event, TrackEvent) or not is_click(event):
        return None
    props = event.properties
    link, delivery_id = props.get("link"), props.get("delivery_id")
    if not isinstance(link, str) or not isinstance(delivery_id, str):
        return None
    attributes = {"link": link, "url": _text(props, "url")}
    return _prompt_outcome(
        OutcomeKind.LINK_CLICKED, f"{delivery_id}:{link}", event, now, _text(props, "channel"), attributes
    )


def _text(properties: dict[str, Any], name: str) -> str | None:
    value = properties.get(name)
    return value if isinstance(value, str) and value else None


def _prompt_outcome(
    kind: OutcomeKind, key: str, event: TrackEvent, now: datetime, channel: str | None, attributes: dict[str, Any]
) -> Outcome:
    """An outcome about one delivered message, from an event the API published with the message's
    properties (`delivery_id`, `playbook_id`, `milestone_id`, `kind`...)."""
    props = event.properties
    return Outcome.of(
        kind,
        key,
        user_id=event.userId,
        occurred_at=event.timestamp,
        recorded_at=now,
        playbook_id=_text(props, "playbook_id"),
        playbook_version=_text(props, "playbook_version"),
        milestone_id=_text(props, "milestone_id"),
        delivery_id=_text(props, "delivery_id"),
        channel=channel,
        attributes={**attributes, "kind": _text(props, "kind"), "message_id": event.messageId},
    )
