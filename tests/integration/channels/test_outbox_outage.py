"""An outage at the provider ends in exactly one delivered message."""

import asyncio

from nudgeflow.channels import RetryPolicy, SendGridEmailChannel, SlackChannel, deliver_with_retries, outcome
from nudgeflow.channels.standins import SendGridStandIn


async def test_sendgrid_outage_on_fake_time_delivers_once(message):
    clock = [0.0]

    async def sleep(seconds: float) -> None:
        clock[0] += seconds

    async with SendGridStandIn(clock=lambda: clock[0]) as server:
        server.fail_for(seconds=60, status=503)
        channel = SendGridEmailChannel("SG.key", "hello@nudgeflow.dev", host=server.url, timeout=1.0)
        policy = RetryPolicy(max_attempts=10, base_delay=5.0, max_delay=40.0, jitter=False)
        attempts = await deliver_with_retries(channel, message(), policy, sleep=sleep)

    assert outcome(attempts) == "sent"
    # attempts at t=0, 5, 15, 35 fall inside the 60 s outage; t=75 is after it
    assert [a.status_code for a in attempts] == [503, 503, 503, 503, 202]
    assert [a.next_delay_seconds for a in attempts] == [5.0, 10.0, 20.0, 40.0, None]
    assert len(server.messages) == 1 and len(server.requests) == len(attempts)
    assert server.messages[0]["custom_args"]["delivery_id"] == "d-123"


async def test_slack_outage_in_real_time_delivers_once(slack_server, message):
    slack_server.fail_for(seconds=0.4, status=500)
    channel = SlackChannel("xoxb-test", base_url=f"{slack_server.url}/api/", timeout=1.0)
    policy = RetryPolicy(max_attempts=20, base_delay=0.05, max_delay=0.2)
    attempts = await deliver_with_retries(channel, message(), policy)
    assert outcome(attempts) == "sent"
    assert all(a.status == "retry" for a in attempts[:-1]) and len(attempts) >= 2
    assert len(slack_server.messages) == 1


async def test_rate_limit_retry_after_is_waited_out(slack_server, message):
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    slack_server.rate_limit_next(retry_after=30)
    channel = SlackChannel("xoxb-test", base_url=f"{slack_server.url}/api/", timeout=1.0)
    attempts = await deliver_with_retries(channel, message(), RetryPolicy(max_attempts=3, base_delay=1.0), sleep=sleep)
    assert outcome(attempts) == "sent" and waits == [30.0]
    assert len(slack_server.messages) == 1


async def test_timeout_after_acceptance_duplicates_at_least_once(sendgrid_server, email_channel, message):
    """The documented at-least-once edge: the provider accepted the slow request, we retried it."""
    sendgrid_server.delay(seconds=0.6, count=1)
    policy = RetryPolicy(max_attempts=3, base_delay=0.0, max_delay=0.0)
    attempts = await deliver_with_retries(email_channel(timeout=0.2), message(), policy)
    assert [a.status for a in attempts] == ["retry", "sent"]
    await asyncio.sleep(0.6)
    ids = {m["custom_args"]["delivery_id"] for m in sendgrid_server.messages}
    assert len(sendgrid_server.messages) == 2 and ids == {"d-123"}


async def test_permanent_failure_is_not_retried(slack_server, message):
    channel = SlackChannel("xoxb-invalid", base_url=f"{slack_server.url}/api/")
    attempts = await deliver_with_retries(channel, message(), RetryPolicy(max_attempts=5))
    assert outcome(attempts) == "failed" and len(slack_server.requests) == 1
