"""TimerFiring on a manual clock: due timers become commands on the user's partition, once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from nudgeflow.orchestrator.clock import ManualClock
from nudgeflow.orchestrator.handler import TimerPublisher
from nudgeflow.orchestrator.timers.firing import MAX_SLEEP_SECONDS, TimerFiring
from nudgeflow.orchestrator.timers.index import TimerIndex
from nudgeflow.orchestrator.timers.schedule import ScheduledTimer
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


@pytest.fixture
def index() -> TimerIndex:
    return TimerIndex({})


def firing_on(broker: MemoryBroker, index: TimerIndex, clock: ManualClock) -> TimerFiring:
    return TimerFiring(TimerPublisher(broker.topic("timers")), index, clock=clock)


def arm(index: TimerIndex, record: UserRecord) -> None:
    """What the agent does when it stores a record."""
    assert record.partition is not None
    index.sync(record.progress.user_id, record.partition, {}, record.due_times())


async def test_a_timer_is_published_when_the_clock_reaches_it_on_the_users_partition(
    clock: ManualClock, index: TimerIndex
) -> None:
    broker = MemoryBroker()
    firing = firing_on(broker, index, clock)
    arm(index, deferred("ana", T0 + timedelta(hours=1), partition=3))

    assert await firing.fire_due({3}) == 0
    clock.advance(timedelta(minutes=59, seconds=59))
    assert await firing.fire_due({3}) == 0
    clock.advance(timedelta(seconds=1))
    assert await firing.fire_due({3}) == 1
    [message] = broker.topic("timers").take()
    assert (message.key, message.partition) == (b"ana", 3)
    command = TimerCommand.model_validate_json(message.value or b"")
    assert command == TimerCommand(user_id="ana", timer_id=SEND_TIMER_PREFIX + "d-ana", due_at=T0 + timedelta(hours=1))
    assert firing.lag_seconds == [0.0]
    clock.advance(timedelta(hours=1))
    assert await firing.fire_due({3}) == 0, "published once while the agent has not applied it"


async def test_only_the_owned_partitions_fire_and_a_rebalance_fires_in_flight_ones_again(
    clock: ManualClock, index: TimerIndex
) -> None:
    broker = MemoryBroker()
    firing = firing_on(broker, index, clock)
    for user, partition in (("ana", 0), ("bo", 1)):
        arm(index, deferred(user, T0, partition=partition))
    assert await firing.fire_due({1}) == 1
    assert [m.key for m in broker.topic("timers").take()] == [b"bo"]
    firing.on_rebalance()  # the command may be lost with the old owner: the new one publishes it again
    assert await firing.fire_due({0, 1}) == 2
    assert sorted(m.key for m in broker.topic("timers").take()) == [b"ana", b"bo"]


async def test_the_agent_applying_a_timer_deletes_its_entry_and_a_stale_one_is_discarded(
    clock: ManualClock, index: TimerIndex
) -> None:
    record = deferred("ana", T0, partition=0)
    arm(index, record)
    firing = firing_on(MemoryBroker(), index, clock)
    assert await firing.fire_due({0}) == 1
    index.sync("ana", 0, record.due_times(), {})  # the agent fired it and stored the record
    assert index.table == {} and index.in_flight == set()
    arm(index, record)
    index.discard("ana", SEND_TIMER_PREFIX + "d-ana", T0)  # a command the record no longer arms
    assert index.table == {}


def test_moving_a_timer_replaces_its_entry_and_ensure_restores_a_lost_one(index: TimerIndex) -> None:
    early, late = T0 + timedelta(hours=1), T0 + timedelta(hours=2)
    index.sync("ana", 2, {}, {"stall": early})
    index.sync("ana", 2, {"stall": early}, {"stall": late})
    assert index.due(late.timestamp(), [2]) == [ScheduledTimer(late, "ana", "stall", 2)]
    index.table.clear()  # a crash let the record's changelog through, not the index's
    index.ensure("ana", 2, {"stall": late})
    assert len(index.table) == 1


def test_a_fired_timer_carries_its_exact_due_time(clock: ManualClock, index: TimerIndex) -> None:
    """The agent fires a command only if it is not earlier than the armed time: a key rounded to the
    millisecond made every timer armed at .xxx5+ µs stale."""
    due = T0 + timedelta(seconds=2, microseconds=363_228)
    index.sync("kim", 1, {}, {"stall": due})
    [timer] = index.due((due + timedelta(seconds=1)).timestamp(), [1])
    assert timer.due_at == due


def test_keys_sort_by_due_time_whatever_the_user_id(index: TimerIndex) -> None:
    for n, user in enumerate(["zed", "a/b c", "ü" * 300, ""]):
        index.sync(user, 0, {}, {"t": T0 + timedelta(seconds=10 - n)})
    due = index.due((T0 + timedelta(seconds=10)).timestamp(), [0])
    assert [timer.user_id for timer in due] == ["", "ü" * 300, "a/b c", "zed"]


def test_the_loop_waits_until_the_next_timer_but_never_long(clock: ManualClock, index: TimerIndex) -> None:
    firing = firing_on(MemoryBroker(), index, clock)
    assert firing.seconds_to_next() == MAX_SLEEP_SECONDS
    arm(index, deferred("ana", T0 + timedelta(seconds=0.05), partition=0))
    index.due(T0.timestamp(), [0])  # a pass of the loop
    assert firing.seconds_to_next() == pytest.approx(0.05)
    clock.advance(timedelta(seconds=1))
    assert firing.seconds_to_next() == 0


def test_a_manual_clock_moves_only_when_told_and_needs_a_time_zone() -> None:
    clock = ManualClock(T0)
    assert clock.now() == T0 and clock.advance(timedelta(days=1)) == T0 + timedelta(days=1)
    with pytest.raises(ValueError):
        ManualClock(datetime(2026, 1, 1))


async def test_a_backlog_drains_a_thousand_at_a_time_without_blocking_the_loop(
    clock: ManualClock, index: TimerIndex
) -> None:
    for n in range(2_500):
        index.sync(f"u{n:04d}", n % 4, {}, {"stall": T0 - timedelta(seconds=n)})
    firing = firing_on(MemoryBroker(), index, clock)
    assert await firing.fire_due({0, 1, 2, 3}) == 1_000
    assert firing.seconds_to_next() == 0, "more is due: the loop comes back at once"
    assert await firing.fire_due({0, 1, 2, 3}) == 1_000
    assert await firing.fire_due({0, 1, 2, 3}) == 500
    assert await firing.fire_due({0, 1, 2, 3}) == 0 and firing.fired == 2_500
