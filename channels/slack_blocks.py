"""Block Kit layout for celebrations and nudges (pure: no I/O).

header (title) + section (body, optional CTA button) + context (progress).
Texts are truncated to Block Kit's limits so a long title cannot turn a
celebration into an `invalid_blocks` failure.
"""

from __future__ import annotations

from typing import Any

from nudgeflow.channels.base import OutboundMessage

HEADER_LIMIT = 150
SECTION_LIMIT = 3000
BAR_WIDTH = 10


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


def message_blocks(message: OutboundMessage, *, mention: str | None = None) -> list[dict[str, Any]]:
    """Blocks for one message; `mention` is a Slack user id to greet in a team channel."""
    body = escape_mrkdwn(message.body)
    if mention:
        body = f"<@{mention}> {body}"
    text = {"type": "mrkdwn", "text": truncate(body, SECTION_LIMIT)}
    section: dict[str, Any] = {"type": "section", "text": text}
    if message.cta_url:
        section["accessory"] = {
            "type": "button",
            "text": {"type": "plain_text", "text": "Open", "emoji": True},
            "url": message.cta_url,
            "action_id": "nudgeflow_cta",
        }
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": truncate(message.title, HEADER_LIMIT), "emoji": True},
        },
        section,
    ]
    if message.progress_total:
        bar = progress_bar(message.progress_done or 0, message.progress_total)
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"Progress: {bar}"}]})
    return blocks


def fallback_text(message: OutboundMessage) -> str:
    """Plain text for notifications and screen readers (Slack asks for it next to blocks)."""
    return truncate(f"{message.title}: {message.body}", SECTION_LIMIT)
