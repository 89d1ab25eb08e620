"""`nudgeflow preview`: one message of a playbook as each channel would show it, before it goes live.

A CS author picks a message by the path `rules check` prints (`milestones[0].celebrate[1]`,
`stalls[0].nudges[0]`, `on_enter[0]`; a milestone id works in place of its index), gives the
user's traits and the triggering event's properties, and gets the email's HTML in a file, the Slack
blocks as Block Kit Builder JSON, and the in-app card in the terminal. Rendering goes through the
same code as the worker (`build_delivery`, the channel adapters' builders), so a template mistake
shows here as the `template_error` the worker would record instead of sending.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.text import Text

from nudgeflow.channels.base import OutboundMessage
from nudgeflow.channels.sendgrid_mail import html_body
from nudgeflow.channels.slack_blocks import message_blocks
from nudgeflow.rules.contracts.deliveries import DeliveryKind, DeliveryRequest
from nudgeflow.rules.contracts.events import TrackEvent
from nudgeflow.rules.contracts.users import UserProgress
from nudgeflow.rules.deliveries import build_delivery
from nudgeflow.rules.ladder import enter, milestone_state
from nudgeflow.rules.schema import Message, Milestone, Playbook

_STEP = re.compile(r"^(?P<name>[A-Za-z_]+)(?:\[(?P<index>[^\]]+)\])?$")


class PreviewError(ValueError):
    """The message path names nothing in the playbook; the text lists what it does name."""


@dataclass(frozen=True)
class Located:
    path: str
    milestone: Milestone
    message: Message
    kind: DeliveryKind
    step: int


def messages_of(playbook: Playbook) -> list[Located]:
    """Every message of the playbook with its path, in file order."""
    first = playbook.milestones[0]
    found = [Located(f"on_enter[{i}]", first, m, "welcome", 0) for i, m in enumerate(playbook.on_enter)]
    for i, milestone in enumerate(playbook.milestones):
        found += [
            Located(f"milestones[{i}].celebrate[{j}]", milestone, m, "celebration", 0)
            for j, m in enumerate(milestone.celebrate)
        ]
        found += [
            Located(f"milestones[{i}].overdue[{j}]", milestone, m, "nudge", j) for j, m in enumerate(milestone.overdue)
        ]
    for i, stall in enumerate(playbook.stalls):
        milestone = playbook.milestone(stall.milestone) or first
        found += [Located(f"stalls[{i}].nudges[{j}]", milestone, m, "nudge", j) for j, m in enumerate(stall.nudges)]
    return found


def locate(playbook: Playbook, path: str) -> Located:
    """The message at `path`; a milestone may be named by id (`milestones[invite_teammate].celebrate[0]`)."""
    wanted = _canonical(playbook, path.strip())
    for located in messages_of(playbook):
        if located.path == wanted:
            return located
    known = ", ".join(m.path for m in messages_of(playbook)) or "none"
    raise PreviewError(f"no message at '{path}' in playbook '{playbook.id}'; its messages: {known}")


def _canonical(playbook: Playbook, path: str) -> str:
    steps = []
    for part in path.split("."):
        match = _STEP.match(part)
        if match is None:
            raise PreviewError(f"'{path}' is not a message path; write it like milestones[0].celebrate[1]")
        name, index = match["name"], match["index"]
        if name == "milestones" and index is not None and not index.isdigit():
            ids = [m.id for m in playbook.milestones]
            if index not in ids:
                raise PreviewError(
                    f"no milestone '{index}' in playbook '{playbook.id}'; its milestones: {', '.join(ids)}"
                )
            index = str(ids.index(index))
        steps.append(name if index is None else f"{name}[{index}]")
    return ".".join(steps)


def render(
    playbook: Playbook,
    located: Located,
    *,
    traits: dict[str, Any],
    properties: dict[str, Any],
    now: datetime | None = None,
    user_id: str = "preview-user",
) -> DeliveryRequest | str:
    """The delivery the worker would build for a user with `traits`, or why it would not send it."""
    now = now or datetime.now(UTC)
    progress = UserProgress.new(user_id)
    progress.traits = dict(traits)
    entered = enter(progress, playbook, "preview", now)
    event = None
    if located.kind == "celebration":  # rendered as the worker does: with the milestone just done
        milestone_state(entered, located.milestone.id).completed_at = now
        event = TrackEvent(
            type="track",
            messageId="preview",
            userId=user_id,
            event=located.milestone.when.event,
            properties=properties,
            timestamp=now,
        )
    built = build_delivery(
        progress=progress,
        playbook=playbook,
        version="preview",
        milestone=located.milestone,
        message=located.message,
        kind=located.kind,
        step=located.step,
        now=now,
        event=event,
    )
    if isinstance(built, DeliveryRequest):
        return built
    return f"{built.reason}: {built.detail}"


@dataclass(frozen=True)
class Written:
    email_html: Path
    slack_json: Path


def write_previews(request: DeliveryRequest, out: Path, name: str) -> Written:
    """The email's HTML and the Slack message as Block Kit Builder JSON, under `out`."""
    out.mkdir(parents=True, exist_ok=True)
    email = OutboundMessage.from_delivery(request.model_copy(update={"channel": "email"}))
    slack = OutboundMessage.from_delivery(request.model_copy(update={"channel": "slack"}))
    html_path, slack_path = out / f"{name}.email.html", out / f"{name}.slack.json"
    html_path.write_text(html_body(email), encoding="utf-8")
    blocks = [block.to_dict() for block in message_blocks(slack)]
    slack_path.write_text(json.dumps({"blocks": blocks}, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return Written(html_path, slack_path)


def inapp_card(request: DeliveryRequest) -> Panel:
    """The in-app card as the widget lays it out: title, image note, body, buttons, links, survey."""
    parts: list[Any] = [Text(request.body)]
    if request.image is not None:
        parts.insert(0, Text(f"[image: {request.image.alt}] {request.image.url}", style="dim"))
    buttons = [
        (link, style) for link, style in ((request.cta, "bold reverse"), (request.secondary_cta, "bold")) if link
    ]
    for link, style in buttons:
        parts.append(Text.assemble((f" {link.label} ", style), (f"  → {link.url}", "dim")))
    parts += [
        Text.assemble(("• ", "dim"), (link.label, "underline"), (f"  → {link.url}", "dim")) for link in request.links
    ]
    if request.survey is not None:
        survey = request.survey
        scale = " ".join(f"[{n}]" for n in range(1, survey.scale + 1))
        parts.append(
            Text.assemble((survey.question, "italic"), f"  {scale}", ("  + comment" if survey.comment else ""))
        )
    return Panel(Group(*parts), title=request.title, subtitle=f"{request.kind} · in-app", expand=False)


def preview(
    playbook: Playbook,
    path: str,
    *,
    traits: dict[str, Any],
    properties: dict[str, Any],
    out: Path,
    console: Console,
) -> int:
    """The CLI command's body: 0 when the message renders, 1 when the worker would suppress it."""
    located = locate(playbook, path)
    rendered = render(playbook, located, traits=traits, properties=properties)
    if isinstance(rendered, str):
        console.print(f"[red]{located.path} would not be sent[/red] ({rendered})")
        return 1
    console.print(inapp_card(rendered))
    name = f"{playbook.id}.{located.path}".replace("[", "-").replace("]", "").replace(".", "-")
    written = write_previews(rendered, out, name)
    console.print(f"email HTML: {written.email_html}")
    console.print(f"Slack blocks (paste into Block Kit Builder): {written.slack_json}")
    return 0
