"""Block Kit layout for celebrations and nudges, built with `slack_sdk.models.blocks` (pure: no I/O).

header (title) + section (body, optional CTA button) + context (progress). Texts are truncated
to Block Kit's limits (the SDK's own, so they cannot drift) so a long title cannot turn a
celebration into an `invalid_blocks` failure; a CTA link too long for a button is left out.
"""

from __future__ import annotations

from slack_sdk.models.blocks import (
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from nudgeflow.channels.base import OutboundMessage

HEADER_LIMIT: int = HeaderBlock.text_max_length
SECTION_LIMIT: int = SectionBlock.text_max_length
URL_LIMIT: int = ButtonElement.url_max_length
BAR_WIDTH = 10
CTA_ACTION_ID = "nudgeflow_cta"


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
    button = None
    if message.cta_url and len(message.cta_url) <= URL_LIMIT:
        button = ButtonElement(
            text=PlainTextObject(text="Open", emoji=True), url=message.cta_url, action_id=CTA_ACTION_ID
        )
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=truncate(message.title, HEADER_LIMIT), emoji=True)),
        SectionBlock(text=MarkdownTextObject(text=truncate(body, SECTION_LIMIT)), accessory=button),
    ]
    if message.progress_total:
        bar = progress_bar(message.progress_done or 0, message.progress_total)
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"Progress: {bar}")]))
    return blocks


def fallback_text(message: OutboundMessage) -> str:
    """Plain text for notifications and screen readers (Slack asks for it next to blocks)."""
    return truncate(f"{message.title}: {message.body}", SECTION_LIMIT)
