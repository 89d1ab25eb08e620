import time

from nudgeflow.channels.slack import METADATA_EVENT_TYPE


async def test_dm_is_recorded_with_block_kit_and_metadata(slack_server, slack_channel, message):
    result = await slack_channel().send(message())
    assert result.status == "sent"
    [request] = slack_server.accepted
    assert request.headers["authorization"] == "Bearer xoxb-test"
    posted = slack_server.messages[0]
    assert posted["channel"] == "U0ADA"
    assert result.provider_message_id == f"D0ADA:{request.response['ts']}"
    assert [b["type"] for b in posted["blocks"]] == ["header", "section", "context"]
    assert posted["blocks"][0]["text"]["text"] == "First dashboard!"
    assert posted["blocks"][2]["elements"][0]["text"].endswith("2/5")
    assert posted["text"].startswith("First dashboard!")
    assert posted["metadata"] == {
        "event_type": METADATA_EVENT_TYPE,
        "event_payload": {"delivery_id": "d-123", "user_id": "u-1"},
    }


async def test_missing_slack_id_is_looked_up_by_email_once(slack_server, slack_channel, message):
    slack_server.add_user("ada@example.com", "U0LOOKED")
    channel = slack_channel()
    for _ in range(2):
        assert (await channel.send(message(slack_user_id=None))).status == "sent"
    assert [m["channel"] for m in slack_server.messages] == ["U0LOOKED", "U0LOOKED"]
    lookups = [r for r in slack_server.requests if r.path == "/api/users.lookupByEmail"]
    assert len(lookups) == 1 and lookups[0].query == {"email": "ada@example.com"}


async def test_unknown_email_fails_with_slacks_error(slack_channel, message):
    result = await slack_channel().send(message(slack_user_id=None))
    assert result.status == "failed" and result.reason.startswith("users_not_found")


async def test_unknown_email_falls_back_to_the_team_channel(slack_server, slack_channel, message):
    result = await slack_channel(default_channel="C0TEAM").send(message(slack_user_id=None))
    assert result.status == "sent"
    assert [m["channel"] for m in slack_server.messages] == ["C0TEAM"]


async def test_team_channel_post_mentions_the_user(slack_server, slack_channel, message):
    assert (await slack_channel().send(message(slack_channel="C0WINS"))).status == "sent"
    posted = slack_server.messages[0]
    assert posted["channel"] == "C0WINS"
    assert posted["blocks"][1]["text"]["text"].startswith("<@U0ADA>")


async def test_default_channel_when_no_user_is_known(slack_server, slack_channel, message):
    channel = slack_channel(default_channel="C0TEAM")
    assert (await channel.send(message(slack_user_id=None, to_email=None))).status == "sent"
    assert slack_server.messages[0]["channel"] == "C0TEAM"


async def test_no_recipient_fails_without_a_request(slack_server, slack_channel, message):
    result = await slack_channel().send(message(slack_user_id=None, to_email=None))
    assert result.status == "failed" and slack_server.requests == []


async def test_rate_limit_returns_retry_after_without_sleeping(slack_server, slack_channel, message):
    slack_server.rate_limit_next(retry_after=7)
    started = time.monotonic()
    result = await slack_channel().send(message())
    assert (result.status, result.reason, result.status_code) == ("retry", "ratelimited", 429)
    assert result.retry_after_seconds == 7.0
    assert time.monotonic() - started < 1.0
    assert len(slack_server.requests) == 1  # the client did not retry on its own


async def test_ratelimited_token(slack_channel, message):
    result = await slack_channel("xoxb-ratelimited").send(message())
    assert (result.status, result.retry_after_seconds) == ("retry", 1.0)


async def test_server_error_is_retryable(slack_server, slack_channel, message):
    slack_server.fail_next(status=503)
    result = await slack_channel().send(message())
    assert (result.status, result.status_code) == ("retry", 503)


async def test_transient_slack_error_on_200_is_retryable(slack_server, slack_channel, message):
    slack_server.fail_next(status=200, error="fatal_error")
    assert (await slack_channel().send(message())).status == "retry"


async def test_invalid_auth_fails_permanently(slack_channel, message):
    result = await slack_channel("xoxb-invalid").send(message())
    assert (result.status, result.reason) == ("failed", "invalid_auth")


async def test_channel_not_found_fails_permanently(slack_channel, message):
    result = await slack_channel().send(message(slack_channel="C0MISSING"))
    assert (result.status, result.reason) == ("failed", "channel_not_found")


async def test_slow_response_over_the_timeout_is_retryable(slack_server, slack_channel, message):
    slack_server.delay(seconds=1.5, count=1)
    started = time.monotonic()
    result = await slack_channel(timeout=0.3).send(message())
    assert result.status == "retry" and "timeout" in (result.reason or "")
    assert time.monotonic() - started < 1.2


async def test_connection_refused_is_retryable(slack_server, slack_channel, message):
    channel = slack_channel()
    await slack_server.stop()
    assert (await channel.send(message())).status == "retry"


async def test_check_uses_auth_test(slack_channel):
    assert (await slack_channel().check()).status == "sent"
    result = await slack_channel("xoxb-invalid").check()
    assert (result.status, result.reason) == ("failed", "invalid_auth")


async def test_slack_receives_the_block_kit_json_built_with_the_sdk(slack_server, slack_channel, message):
    """The stand-in records exactly what slack_sdk posted: the Block Kit models' JSON, CTA button included."""
    cta = {"label": "Share it", "url": "https://app.example.com/next?ws=w1"}
    result = await slack_channel().send(message(slack_channel="C0WINS", cta=cta))
    assert result.status == "sent"
    assert slack_server.messages[0]["blocks"] == [
        {"type": "header", "text": {"type": "plain_text", "text": "First dashboard!", "emoji": True}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "<@U0ADA> You built your first dashboard."}},
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Share it", "emoji": True},
                    "url": "https://app.example.com/next?ws=w1",
                    "action_id": "nudgeflow_cta",
                    "style": "primary",
                }
            ],
        },
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "Progress: ▰▰▰▰▱▱▱▱▱▱ 2/5"}]},
    ]
