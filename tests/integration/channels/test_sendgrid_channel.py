import time

from nudgeflow.channels.standins.sendgrid_server import AUTH_MESSAGE


async def test_sent_mail_is_recorded_with_parts_args_and_unsubscribe(sendgrid_server, email_channel, message):
    result = await email_channel().send(message())
    assert result.status == "sent" and result.status_code == 202
    [request] = sendgrid_server.accepted
    assert result.provider_message_id == request.response_headers["X-Message-Id"]
    assert request.headers["authorization"] == "Bearer SG.test-key"
    mail = request.body
    assert mail["personalizations"][0]["to"] == [{"email": "ada@example.com"}]
    assert [c["type"] for c in mail["content"]] == ["text/plain", "text/html"]
    assert "You built your first dashboard." in mail["content"][0]["value"]
    assert 'href="https://app/unsub?t=1"' in mail["content"][1]["value"]
    assert mail["custom_args"]["delivery_id"] == "d-123" and mail["custom_args"]["user_id"] == "u-1"
    assert mail["headers"]["List-Unsubscribe"] == "<https://app/unsub?t=1>"
    assert sorted(mail["categories"]) == ["celebration", "nudgeflow"]


async def test_template_mail_is_accepted(sendgrid_server, email_channel, message):
    result = await email_channel().send(message(template_id="d-tpl", template_data={"first_name": "Ada"}))
    assert result.status == "sent"
    assert sendgrid_server.messages[0]["personalizations"][0]["dynamic_template_data"]["first_name"] == "Ada"


async def test_rate_limit_reads_x_ratelimit_reset(sendgrid_server, email_channel, message):
    sendgrid_server.rate_limit_next(retry_after=3)
    result = await email_channel().send(message())
    assert result.status == "retry" and result.status_code == 429
    assert result.retry_after_seconds is not None and 2.0 <= result.retry_after_seconds <= 4.5
    assert sendgrid_server.accepted == []


async def test_rate_limit_retry_after_uses_the_channel_clock(sendgrid_server, email_channel, message):
    sendgrid_server.rate_limit_next(retry_after=30)
    result = await email_channel(clock=lambda: time.time() - 100).send(message())
    assert result.retry_after_seconds is not None and result.retry_after_seconds > 100


async def test_server_error_is_retryable(sendgrid_server, email_channel, message):
    sendgrid_server.fail_next(status=500)
    result = await email_channel().send(message())
    assert (result.status, result.status_code, result.reason) == ("retry", 500, "Internal Server Error")
    assert (await email_channel().send(message())).status == "sent"


async def test_bad_key_fails_permanently_with_sendgrids_message(sendgrid_server, email_channel, message):
    result = await email_channel("SG.invalid").send(message())
    assert (result.status, result.status_code, result.reason) == ("failed", 401, AUTH_MESSAGE)


async def test_forbidden_fails_permanently(email_channel, message):
    result = await email_channel("SG.forbidden").send(message())
    assert (result.status, result.status_code, result.reason) == ("failed", 403, "access forbidden")


async def test_validation_error_reason_is_sendgrids(sendgrid_server, email_channel, message):
    sendgrid_server.fail_next(status=400, error="Does not contain a valid address.")
    result = await email_channel().send(message())
    assert (result.status, result.reason) == ("failed", "Does not contain a valid address.")


async def test_slow_response_over_the_timeout_is_retryable(sendgrid_server, email_channel, message):
    sendgrid_server.delay(seconds=1.5, count=1)
    started = time.monotonic()
    result = await email_channel(timeout=0.3).send(message())
    assert result.status == "retry" and "timeout" in (result.reason or "")
    assert time.monotonic() - started < 1.2


async def test_connection_refused_is_retryable(sendgrid_server, email_channel, message):
    channel = email_channel()
    await sendgrid_server.stop()
    result = await channel.send(message())
    assert result.status == "retry" and "connection" in (result.reason or "")


async def test_message_without_address_fails_without_a_request(sendgrid_server, email_channel, message):
    result = await email_channel().send(message(to_email=None))
    assert result.status == "failed" and sendgrid_server.requests == []
