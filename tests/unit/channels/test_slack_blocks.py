"""Block Kit layout built with slack_sdk's models: what Slack receives, as JSON."""

from typing import Any

from slack_sdk.models.blocks import Block

from nudgeflow.channels.base import OutboundMessage
from nudgeflow.channels.slack_blocks import (
    HEADER_LIMIT,
    SECTION_LIMIT,
    URL_LIMIT,
    fallback_text,
    message_blocks,
    progress_bar,
)


def _message(**overrides: Any) -> OutboundMessage:
    fields: dict[str, Any] = dict(
        delivery_id="d-1",
        channel="slack",
        user_id="u-1",
        kind="celebration",
        title="Dashboard built!",
        body="You're 3 of 5 steps in <nice>.",
    )
    fields.update(overrides)
    return OutboundMessage(**fields)


def _json(message: OutboundMessage, mention: str | None = None) -> list[dict[str, Any]]:
    blocks = message_blocks(message, mention=mention)
    assert all(isinstance(block, Block) for block in blocks), "built with slack_sdk.models.blocks"
    return [block.to_dict() for block in blocks]  # to_dict also runs the SDK's Block Kit checks


def test_header_section_context_with_progress() -> None:
    assert _json(_message(progress_done=3, progress_total=5)) == [
        {"type": "header", "text": {"type": "plain_text", "text": "Dashboard built!", "emoji": True}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "You're 3 of 5 steps in &lt;nice&gt;."}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "Progress: ▰▰▰▰▰▰▱▱▱▱ 3/5"}]},
    ]


def test_no_context_without_progress_and_cta_button_when_given() -> None:
    blocks = _json(_message(cta_url="https://app/next"))
    assert [b["type"] for b in blocks] == ["header", "section", "actions"]
    assert blocks[2]["elements"] == [
        {
            "type": "button",
            "text": {"type": "plain_text", "text": "Open", "emoji": True},
            "url": "https://app/next",
            "action_id": "nudgeflow_cta",
            "style": "primary",
        }
    ]


def test_primary_and_secondary_buttons_links_and_image() -> None:
    blocks = _json(
        _message(
            cta={"label": "Connect a source", "url": "https://app.example.com/sources/new?ws=w1"},
            secondary_cta={"label": "Book a call", "url": "https://cal.example.com/cs"},
            links=[
                {"label": "Help <article>", "url": "https://docs.example.com/a?x=1|2"},
                {"label": "Video", "url": "https://video.example.com/v"},
            ],
            image={"url": "https://cdn.example.com/sources.png", "alt": "The sources page"},
        )
    )
    assert [b["type"] for b in blocks] == ["header", "image", "section", "actions", "context"]
    assert blocks[1] == {
        "type": "image",
        "image_url": "https://cdn.example.com/sources.png",
        "alt_text": "The sources page",
    }
    primary, secondary = blocks[3]["elements"]
    assert (primary["text"]["text"], primary["url"], primary["style"]) == (
        "Connect a source",
        "https://app.example.com/sources/new?ws=w1",
        "primary",
    )
    assert (secondary["text"]["text"], secondary["url"], secondary.get("style")) == (
        "Book a call",
        "https://cal.example.com/cs",
        None,
    )
    assert blocks[4]["elements"][0]["text"] == (
        "<https://docs.example.com/a?x=1%7C2|Help &lt;article&gt;>  ·  <https://video.example.com/v|Video>"
    )


def test_a_cta_url_too_long_for_a_button_is_left_out() -> None:
    blocks = _json(_message(cta_url="https://app/" + "x" * URL_LIMIT))
    assert [b["type"] for b in blocks] == ["header", "section"]


def test_team_channel_message_mentions_the_user() -> None:
    assert _json(_message(), mention="U42")[1]["text"]["text"].startswith("<@U42> ")


def test_long_title_and_body_are_truncated_to_the_limits() -> None:
    blocks = _json(_message(title="x" * 400, body="y" * 5000))
    header, section = blocks[0]["text"]["text"], blocks[1]["text"]["text"]
    assert len(header) == HEADER_LIMIT == 150 and header.endswith("…")
    assert len(section) == SECTION_LIMIT == 3000 and section.endswith("…")


def test_progress_bar_clamps() -> None:
    assert progress_bar(9, 5) == "▰▰▰▰▰▰▰▰▰▰ 5/5"
    assert progress_bar(0, 4) == "▱▱▱▱▱▱▱▱▱▱ 0/4"


def test_fallback_text() -> None:
    assert fallback_text(_message()) == "Dashboard built!: You're 3 of 5 steps in <nice>."
