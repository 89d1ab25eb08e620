"""Build DeliveryRequests: stable id, rendered title/body/links, channel data."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from nudgeflow.rules.contracts.deliveries import (
    DeliveryKind,
    DeliveryRequest,
    MessageMedia,
    RenderedImage,
    RenderedLink,
    RenderedSurvey,
    delivery_id_for,
)
from nudgeflow.rules.contracts.events import ACCOUNT, TrackEvent
from nudgeflow.rules.contracts.users import UserProgress
from nudgeflow.rules.decisions import DeliverySuppressed, SuppressReason
from nudgeflow.rules.ladder import ladder_progress, milestone_view
from nudgeflow.rules.locales import localized
from nudgeflow.rules.schema import Link, Media, Message, Milestone, Playbook
from nudgeflow.rules.templates import RenderError, build_context, render, render_url, stall_view


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
    stalled_since: datetime | None = None,
) -> DeliveryRequest | DeliverySuppressed:
    """Render one message; a template that fails at send time suppresses it instead of sending junk.
    `stalled_since`: when the stall this nudge is about started (the `stall` template context)."""
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
        stall=stall_view(stalled_since, now) if stalled_since is not None else None,
    )
    message, locale = localized(message, progress.traits)

    def suppressed(reason: SuppressReason, detail: str) -> DeliverySuppressed:
        return DeliverySuppressed(
            delivery_id=delivery_id,
            kind=kind,
            channel=message.channel,
            step=step,
            reason=reason,
            detail=detail,
            at=now,
            **ids,
        )

    try:
        title, body = render(message.title, context), render(message.body, context)
        media = render_media(message, context)
    except RenderError as exc:
        return suppressed("template_error", str(exc))
    data = {"traits": dict(progress.traits), "timezone": progress.timezone, "locale": locale}
    recipient = recipient_fields(message, progress.traits)
    if isinstance(recipient, str):
        return suppressed("no_recipient", recipient)
    data |= recipient
    return DeliveryRequest(
        delivery_id=delivery_id,
        kind=kind,
        channel=message.channel,
        step=step,
        title=title,
        body=body,
        send_at=now,
        data=data,
        **media.media(),
        **ids,
    )


CSM_EMAIL_TRAIT, CSM_SLACK_TRAIT = "csm_email", "csm_slack_user_id"


def recipient_fields(message: Message, traits: dict[str, Any]) -> dict[str, Any] | str:
    """The channel fields that address a message sent to someone other than the user (`to`), or why
    there is nobody to send it to. A user's own messages need none: the channel reads their traits."""
    if message.to == "user":
        return {}
    if message.to.startswith("#"):
        return {"to": "channel", "slack_channel": message.to}
    found = traits.get(ACCOUNT)
    account: dict[str, Any] = found if isinstance(found, dict) else {}
    email = traits.get(CSM_EMAIL_TRAIT) or account.get(CSM_EMAIL_TRAIT)  # the user's own, else the account's
    slack = traits.get(CSM_SLACK_TRAIT) or account.get(CSM_SLACK_TRAIT)
    fields: dict[str, Any] = {"to": "csm", "to_email": email if isinstance(email, str) and email else None}
    if message.channel == "slack" and isinstance(slack, str) and slack:
        fields["slack_user_id"] = slack
    elif message.channel == "slack":
        fields["slack_user_id"] = None  # not the user's own: found by the CSM's email, if any
    if fields["to_email"] is None and fields.get("slack_user_id") is None:
        wanted = CSM_EMAIL_TRAIT if message.channel == "email" else f"{CSM_SLACK_TRAIT} or {CSM_EMAIL_TRAIT}"
        return f"neither the user nor their account (group call) has a {wanted} trait: nobody to tell"
    return fields


def render_media(message: Media, context: dict[str, Any]) -> MessageMedia:
    """Render the links of a message; a URL that renders to anything but http(s) is a RenderError."""

    def link(spec: Link | None, field: str) -> RenderedLink | None:
        if spec is None:
            return None
        try:
            return RenderedLink(label=render(spec.label, context), url=render_url(spec.url, context))
        except RenderError as exc:
            raise RenderError(f"{field}: {exc}") from exc

    links = [link(spec, f"links[{i}]") for i, spec in enumerate(message.links or [])]
    image = None
    if message.image is not None:
        try:
            image = RenderedImage(url=render_url(message.image.url, context), alt=render(message.image.alt, context))
        except RenderError as exc:
            raise RenderError(f"image: {exc}") from exc
    survey = None
    if message.survey is not None:
        try:
            question = render(message.survey.question, context)
        except RenderError as exc:
            raise RenderError(f"survey: {exc}") from exc
        survey = RenderedSurvey(question=question, scale=message.survey.scale, comment=message.survey.comment)
    return MessageMedia(
        cta=link(message.cta, "cta"),
        secondary_cta=link(message.secondary_cta, "secondary_cta"),
        links=[x for x in links if x is not None],
        image=image,
        survey=survey,
    )
