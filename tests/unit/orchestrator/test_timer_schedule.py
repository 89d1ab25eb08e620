"""The per-worker timer schedule: due order, cancellation, re-arming, per-user sync."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from nudgeflow.orchestrator.timers.schedule import ScheduledTimer, TimerSchedule

T0 = datetime(2026, 11, 24, 9, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_due_timers_come_out_in_time_order_and_only_once() -> None:
    schedule = TimerSchedule()
    schedule.arm(ScheduledTimer(at(30), "ana", "stall-1", 0))
    schedule.arm(ScheduledTimer(at(10), "ben", "stall-1", 1))
    schedule.arm(ScheduledTimer(at(20), "ana", "stall-2", 0))
    assert schedule.next_due() == at(10).timestamp()
    assert [(t.user_id, t.timer_id) for t in schedule.pop_due(at(25).timestamp())] == [
        ("ben", "stall-1"),
        ("ana", "stall-2"),
    ]
    assert schedule.pop_due(at(25).timestamp()) == []
    assert len(schedule) == 1


def test_cancelled_and_moved_timers_do_not_fire_at_their_old_time() -> None:
    schedule = TimerSchedule()
    schedule.arm(ScheduledTimer(at(10), "ana", "stall", 0))
    schedule.arm(ScheduledTimer(at(60), "ana", "stall", 0))  # re-armed later
    schedule.arm(ScheduledTimer(at(5), "ben", "stall", 0))
    schedule.cancel("ben", "stall")
    assert schedule.pop_due(at(30).timestamp()) == []
    [fired] = schedule.pop_due(at(60).timestamp())
    assert fired.due_at == at(60)


def test_sync_user_makes_the_schedule_match_the_record() -> None:
    schedule = TimerSchedule()
    schedule.sync_user("ana", 3, {"a": at(1), "b": at(2)})
    schedule.sync_user("ana", 3, {"b": at(2), "c": at(3)})  # a cancelled, c armed
    fired = schedule.pop_due(at(10).timestamp())
    assert [(t.timer_id, t.partition) for t in fired] == [("b", 3), ("c", 3)]
    assert len(schedule) == 0
