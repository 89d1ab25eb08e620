"""TimerFiring on a manual clock: due timers become commands on the user's partition, once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from nudgeflow.orchestrator.clock import ManualClock
from nudgeflow.orchestrator.handler import TimerPublisher
from nudgeflow.orchestrator.timers.firing import MAX_SLEEP_SECONDS, TimerFiring
from nudgeflow.rules.contracts.deliveries import DeliveryRequest
from nudgeflow.rules.contracts.timers import TimerCommand
from nudgeflow.rules.contracts.users import SEND_TIMER_PREFIX, UserRecord
from tests.support.memory import MemoryBroker

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def deferred(user: str, send_at: datetime, partition: int) -> UserRecord:
    request = DeliveryRequest(
        delivery_id=f"d-{user}",
        user_id=user,
        playbook_id="pb",
        playbook_version="v1",
        milestone_id="m",
        kind="celebration",
        channel="email",
        title="t",
        body="b",
        send_at=send_at,
    )
    return UserRecord.new(user).model_copy(update={"deferred": {request.delivery_id: request}, "partition": partition})


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


def firing_on(broker: MemoryBroker, clock: ManualClock) -> TimerFiring:
    return TimerFiring(TimerPublisher(broker.topic("timers")), clock=clock)


def no_records() -> tuple[list[tuple[str, dict[str, Any]]], set[int]]:
    return [], set()


async def test_a_timer_is_published_when_the_clock_reaches_it_on_the_users_partition(clock: ManualClock) -> None:
    broker = MemoryBroker()
    firing = firing_on(broker, clock)
    await firing.fire_due(no_records)  # first pass: the (empty) rebuild after start
    firing.track("ana", deferred("ana", T0 + timedelta(hours=1), partition=3))

    assert await firing.fire_due(no_records) == 0
    clock.advance(timedelta(minutes=59, seconds=59))
    assert await firing.fire_due(no_records) == 0
    clock.advance(timedelta(seconds=1))
    assert await firing.fire_due(no_records) == 1
    [message] = broker.topic("timers").take()
    assert (message.key, message.partition) == (b"ana", 3)
    command = TimerCommand.model_validate_json(message.value or b"")
    assert command == TimerCommand(user_id="ana", timer_id=SEND_TIMER_PREFIX + "d-ana", due_at=T0 + timedelta(hours=1))
    assert firing.lag_seconds == [0.0]
    clock.advance(timedelta(hours=1))
    assert await firing.fire_due(no_records) == 0, "published once"


async def test_after_a_rebalance_the_schedule_holds_only_the_owned_partitions(clock: ManualClock) -> None:
    broker = MemoryBroker()
    firing = firing_on(broker, clock)
    records = [(u, deferred(u, T0, partition=p).model_dump(mode="json")) for u, p in (("ana", 0), ("bo", 1))]
    firing.on_rebalance()
    assert await firing.fire_due(lambda: (records, {1})) == 1
    assert [m.key for m in broker.topic("timers").take()] == [b"bo"]


def test_the_loop_waits_until_the_next_timer_but_never_long(clock: ManualClock) -> None:
    firing = TimerFiring(TimerPublisher(MemoryBroker().topic("timers")), clock=clock)
    assert firing.seconds_to_next() == MAX_SLEEP_SECONDS
    firing.track("ana", deferred("ana", T0 + timedelta(seconds=0.05), partition=0))
    assert firing.seconds_to_next() == pytest.approx(0.05)
    clock.advance(timedelta(seconds=1))
    assert firing.seconds_to_next() == 0


def test_a_manual_clock_moves_only_when_told_and_needs_a_time_zone() -> None:
    clock = ManualClock(T0)
    assert clock.now() == T0 and clock.advance(timedelta(days=1)) == T0 + timedelta(days=1)
    with pytest.raises(ValueError):
        ManualClock(datetime(2026, 1, 1))
