"""OutboxSender's contract with its agent: one result per delivery, published with the partition it
came from; preferences and missing channels are results too, never a send."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from nudgeflow.channels.memory import RecordingChannel
from nudgeflow.channels.outbox import Attempt
from nudgeflow.channels.retry import RetryPolicy
from nudgeflow.orchestrator.outbox.sender import OutboxSender
from nudgeflow.rules.contracts.deliveries import DeliveryRequest, DeliveryResult


def request(delivery_id: str, channel: str = "email") -> DeliveryRequest:
    return DeliveryRequest(
        delivery_id=delivery_id,
        user_id="ana",
        playbook_id="pb",
        playbook_version="v1",
        milestone_id="m",
        kind="celebration",
        channel=channel,  # type: ignore[arg-type]
        title="t",
        body="b",
        send_at=datetime(2026, 3, 2, tzinfo=UTC),
    )


class Results:
    """The agent's side: collects published results; `wait(n)` returns once n have come."""

    def __init__(self) -> None:
        self.published: list[tuple[DeliveryResult, int]] = []
        self.attempts: list[Attempt] = []
        self._changed = asyncio.Condition()

    async def result(self, result: DeliveryResult, partition: int) -> None:
        async with self._changed:
            self.published.append((result, partition))
            self._changed.notify_all()

    async def attempt(self, _: DeliveryRequest, attempt: Attempt) -> None:
        self.attempts.append(attempt)

    async def wait(self, count: int) -> list[tuple[DeliveryResult, int]]:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: len(self.published) >= count), 5)
        return self.published


def sender(results: Results, email: RecordingChannel, *, allows: bool = True) -> OutboxSender:
    return OutboxSender(
        {"email": email},
        RetryPolicy(max_attempts=1),
        concurrency=2,
        publish_attempt=results.attempt,
        publish_result=results.result,
        allows=lambda user, channel, playbook: allows,
    )


async def test_a_send_publishes_its_attempt_and_its_result_on_the_deliverys_partition() -> None:
    results, email = Results(), RecordingChannel("email")
    sender(results, email).start(request("d1"), partition=3)
    [(result, partition)] = await results.wait(1)
    assert (result.delivery_id, result.status, result.attempts, partition) == ("d1", "sent", 1, 3)
    assert [m.delivery_id for m in email.sent] == ["d1"] and [a.status for a in results.attempts] == ["sent"]


async def test_preferences_and_missing_channels_close_the_delivery_without_a_send() -> None:
    results, email = Results(), RecordingChannel("email")
    sender(results, email, allows=False).start(request("d1"), partition=0)
    sender(results, email).start(request("d2", channel="slack"), partition=1)
    published = {r.delivery_id: (r.status, r.reason) for r, _ in await results.wait(2)}
    assert published == {
        "d1": ("suppressed", "user preferences"),
        "d2": ("failed", "channel 'slack' is not configured"),
    }
    assert email.calls == []


async def test_the_users_opt_out_stops_her_own_email_not_the_one_to_her_csm() -> None:
    results, email = Results(), RecordingChannel("email")
    to_csm = request("d-csm").model_copy(update={"data": {"to": "csm", "to_email": "carla@vendor.example"}})
    opted_out = sender(results, email, allows=False)
    opted_out.start(request("d-own"), partition=0)
    opted_out.start(to_csm, partition=0)
    published = {r.delivery_id: r.status for r, _ in await results.wait(2)}
    assert published == {"d-own": "suppressed", "d-csm": "sent"}
    assert [m.to_email for m in email.sent] == ["carla@vendor.example"]
