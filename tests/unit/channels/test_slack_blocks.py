from nudgeflow.channels.base import OutboundMessage
from nudgeflow.channels.slack_blocks import HEADER_LIMIT, fallback_text, message_blocks, progress_bar


def _message(**overrides) -> OutboundMessage:
    fields = dict(
        delivery_id="d-1",
        channel="slack",
        user_id="u-1",
        kind="celebration",
        title="Dashboard built!",
        body="You're 3 of 5 steps in <nice>.",
    )
    fields.update(overrides)
    return OutboundMessage(**fields)


def test_header_section_context_with_progress():
    blocks = message_blocks(_message(progress_done=3, progress_total=5))
    assert [b["type"] for b in blocks] == ["header", "section", "context"]
    assert blocks[0]["text"] == {"type": "plain_text", "text": "Dashboard built!", "emoji": True}
    assert blocks[1]["text"]["text"] == "You're 3 of 5 steps in &lt;nice&gt;."
    assert blocks[2]["elements"][0]["text"] == "Progress: ▰▰▰▰▰▰▱▱▱▱ 3/5"


def test_no_context_without_progress_and_cta_button_when_given():
    blocks = message_blocks(_message(cta_url="https://app/next"))
    assert [b["type"] for b in blocks] == ["header", "section"]
    assert blocks[1]["accessory"]["url"] == "https://app/next"


def test_team_channel_message_mentions_the_user():
    assert message_blocks(_message(), mention="U42")[1]["text"]["text"].startswith("<@U42> ")


def test_long_title_is_truncated_to_the_header_limit():
    header = message_blocks(_message(title="x" * 400))[0]["text"]["text"]
    assert len(header) == HEADER_LIMIT and header.endswith("…")


def test_progress_bar_clamps():
    assert progress_bar(9, 5) == "▰▰▰▰▰▰▰▰▰▰ 5/5"
    assert progress_bar(0, 4) == "▱▱▱▱▱▱▱▱▱▱ 0/4"


def test_fallback_text():
    assert fallback_text(_message()) == "Dashboard built!: You're 3 of 5 steps in <nice>."
