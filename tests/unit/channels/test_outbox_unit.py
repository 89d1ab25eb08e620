from nudgeflow.channels.base import OutboundMessage, SendResult
from nudgeflow.channels.memory import RecordingChannel
from nudgeflow.channels.outbox import Attempt, deliver_with_retries, outcome
from nudgeflow.channels.retry import RetryPolicy

MESSAGE = OutboundMessage(delivery_id="d-1", channel="memory", user_id="u-1", kind="nudge", title="t", body="b")
POLICY = RetryPolicy(max_attempts=4, base_delay=1.0, max_delay=8.0, jitter=False)


class FakeSleep:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


async def test_sent_first_time_means_one_attempt_and_no_sleep():
    channel, sleep = RecordingChannel(), FakeSleep()
    attempts = await deliver_with_retries(channel, MESSAGE, POLICY, sleep=sleep)
    assert [a.status for a in attempts] == ["sent"]
    assert sleep.calls == [] and outcome(attempts) == "sent"
    assert attempts[0].next_delay_seconds is None


async def test_retries_back_off_and_honour_retry_after_until_sent():
    channel = RecordingChannel(
        results=[
            SendResult.retry(reason="HTTP 500", status_code=500),
            SendResult.retry(reason="ratelimited", retry_after_seconds=5.0),
            SendResult.retry(reason="timeout"),
        ]
    )
    sleep = FakeSleep()
    attempts = await deliver_with_retries(channel, MESSAGE, POLICY, sleep=sleep)
    assert [a.status for a in attempts] == ["retry", "retry", "retry", "sent"]
    assert sleep.calls == [1.0, 5.0, 4.0]
    assert [a.attempt for a in attempts] == [1, 2, 3, 4]
    assert len(channel.sent) == 1


async def test_permanent_failure_stops_immediately():
    channel = RecordingChannel(results=[SendResult.failed(reason="invalid_auth")])
    attempts = await deliver_with_retries(channel, MESSAGE, POLICY, sleep=FakeSleep())
    assert outcome(attempts) == "failed" and attempts[0].reason == "invalid_auth"
    assert len(channel.calls) == 1


async def test_exhaustion_after_max_attempts():
    channel = RecordingChannel(results=[SendResult.retry(reason="HTTP 503")] * 10)
    sleep = FakeSleep()
    attempts = await deliver_with_retries(channel, MESSAGE, POLICY, sleep=sleep)
    assert len(attempts) == POLICY.max_attempts and outcome(attempts) == "exhausted"
    assert len(sleep.calls) == POLICY.max_attempts - 1


async def test_a_raising_channel_is_recorded_as_failed():
    class Broken:
        name = "broken"

        async def send(self, message):
            raise KeyError("template")

    attempts = await deliver_with_retries(Broken(), MESSAGE, POLICY, sleep=FakeSleep())
    assert outcome(attempts) == "failed" and "KeyError" in (attempts[0].reason or "")


async def test_on_attempt_sees_each_attempt_as_it_happens():
    seen: list[Attempt] = []

    async def publish(attempt: Attempt) -> None:
        seen.append(attempt)

    channel = RecordingChannel(results=[SendResult.retry(reason="x")])
    attempts = await deliver_with_retries(channel, MESSAGE, POLICY, sleep=FakeSleep(), on_attempt=publish)
    assert seen == attempts and seen[0].delivery_id == "d-1" and seen[0].channel == "memory"
