"""Block Kit layout for celebrations and nudges, built with `slack_sdk.models.blocks` (pure: no I/O).

header (title) + image + section (body) + actions (primary CTA button, secondary button) +
context (links) + context (progress). Texts are truncated to Block Kit's limits (the SDK's own,
so they cannot drift) so a long title cannot turn a celebration into an `invalid_blocks` failure;
a link too long for a button or an image URL too long for Slack is left out.
"""

from __future__ import annotations

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    ImageBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from nudgeflow.channels.base import OutboundMessage
from nudgeflow.rules.contracts.deliveries import RenderedLink

HEADER_LIMIT: int = HeaderBlock.text_max_length
SECTION_LIMIT: int = SectionBlock.text_max_length
URL_LIMIT: int = ButtonElement.url_max_length
BAR_WIDTH = 10
BUTTON_TEXT_LIMIT: int = ButtonElement.text_max_length
IMAGE_URL_LIMIT: int = ImageBlock.image_url_max_length
ALT_TEXT_LIMIT: int = ImageBlock.alt_text_max_length
CTA_ACTION_ID = "nudgeflow_cta"
SECONDARY_ACTION_ID = "nudgeflow_secondary_cta"


def escape_mrkdwn(text: str) -> str:
    """Escape the three characters Slack reserves for links and mentions."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def progress_bar(done: int, total: int, *, width: int = BAR_WIDTH) -> str:
    """`▰▰▰▱▱▱▱▱▱▱ 3/10`; clamps done to [0, total]."""
    done = max(0, min(done, total))
    filled = round(width * done / total) if total else 0
    return f"{'▰' * filled}{'▱' * (width - filled)} {done}/{total}"


def message_blocks(message: OutboundMessage, *, mention: str | None = None) -> list[Block]:
    """Blocks for one message; `mention` is a Slack user id to greet in a team channel."""
    body = escape_mrkdwn(message.body)
    if mention:
        body = f"<@{mention}> {body}"
    blocks: list[Block] = [HeaderBlock(text=PlainTextObject(text=truncate(message.title, HEADER_LIMIT), emoji=True))]
    if message.image and len(message.image.url) <= IMAGE_URL_LIMIT:
        blocks.append(ImageBlock(image_url=message.image.url, alt_text=truncate(message.image.alt, ALT_TEXT_LIMIT)))
    blocks.append(SectionBlock(text=MarkdownTextObject(text=truncate(body, SECTION_LIMIT))))
    buttons = [
        button
        for button in (
            _button(message.cta, CTA_ACTION_ID, style="primary"),
            _button(message.secondary_cta, SECONDARY_ACTION_ID, style=None),
        )
        if button is not None
    ]
    if buttons:
        blocks.append(ActionsBlock(elements=buttons))
    if message.links:
        text = "  ·  ".join(f"<{_link_url(link.url)}|{escape_mrkdwn(link.label)}>" for link in message.links)
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=truncate(text, SECTION_LIMIT))]))
    if message.progress_total:
        bar = progress_bar(message.progress_done or 0, message.progress_total)
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"Progress: {bar}")]))
    return blocks


def _button(link: RenderedLink | None, action_id: str, *, style: str | None) -> ButtonElement | None:
    if link is None or len(link.url) > URL_LIMIT:
        return None
    text = PlainTextObject(text=truncate(link.label, BUTTON_TEXT_LIMIT), emoji=True)
    return ButtonElement(text=text, url=link.url, action_id=action_id, style=style)


def _link_url(url: str) -> str:
    """`<url|label>` syntax: a `|` or `>` in the URL would end it early, so percent-encode them."""
    return url.replace("|", "%7C").replace(">", "%3E").replace("<", "%3C")


def fallback_text(message: OutboundMessage) -> str:
    """Plain text for notifications and screen readers (Slack asks for it next to blocks)."""
    return truncate(f"{message.title}: {message.body}", SECTION_LIMIT)
