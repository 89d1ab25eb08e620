"""Quiet hours and send windows in the user's zone, across DST changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from nudgeflow.rules.contracts.deliveries import DeliveryRequest
from nudgeflow.rules.contracts.users import UserProgress
from nudgeflow.rules.schema import Timing
from nudgeflow.rules.timing import next_allowed, schedule

QUIET = Timing.model_validate({"quiet_hours": {"start": "21:00", "end": "08:00"}})
WEEKDAYS = Timing.model_validate(
    {"send_window": {"start": "09:00", "end": "17:00", "days": ["mon", "tue", "wed", "thu", "fri"]}}
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("zone", "at", "expected"),
    [
        ("Europe/Paris", utc(2026, 3, 2, 12), utc(2026, 3, 2, 12)),  # 13:00 local: allowed now
        ("Europe/Paris", utc(2026, 3, 2, 21), utc(2026, 3, 3, 7)),  # 22:00 CET -> 08:00 CET
        ("Europe/Paris", utc(2026, 3, 28, 22), utc(2026, 3, 29, 6)),  # night of spring-forward: 08:00 CEST
        ("Europe/Paris", utc(2026, 10, 24, 22), utc(2026, 10, 25, 7)),  # night of fall-back: 08:00 CET
        ("America/New_York", utc(2026, 3, 8, 3), utc(2026, 3, 8, 12)),  # US DST night: 08:00 EDT
        ("Asia/Kolkata", utc(2026, 3, 2, 16), utc(2026, 3, 3, 2, 30)),  # half-hour offset zone
        ("UTC", utc(2026, 3, 2, 7, 59), utc(2026, 3, 2, 8)),
    ],
)
def test_quiet_hours(zone: str, at: datetime, expected: datetime) -> None:
    assert next_allowed(at, QUIET, ZoneInfo(zone)) == expected


def test_send_window_skips_the_weekend_in_local_time() -> None:
    friday_evening_ny = utc(2026, 3, 6, 23)  # Fri 18:00 EST
    assert next_allowed(friday_evening_ny, WEEKDAYS, ZoneInfo("America/New_York")) == utc(2026, 3, 9, 13)
    # Same instant is already Saturday in Tokyo.
    assert next_allowed(friday_evening_ny, WEEKDAYS, ZoneInfo("Asia/Tokyo")) == utc(2026, 3, 9, 0)


def test_window_opening_inside_a_dst_gap_opens_when_the_clocks_jump() -> None:
    timing = Timing.model_validate({"quiet_hours": {"start": "00:00", "end": "02:30"}})
    # 02:30 does not exist in Paris on 2026-03-29: at 01:00 UTC the clocks jump from 02:00 CET to
    # 03:00 CEST, already outside quiet hours, so that is the first allowed instant (not 03:30 CEST).
    assert next_allowed(utc(2026, 3, 28, 23, 30), timing, ZoneInfo("Europe/Paris")) == utc(2026, 3, 29, 1)


ENDS_0130 = Timing.model_validate({"quiet_hours": {"start": "22:00", "end": "01:30"}})
ENDS_0230 = Timing.model_validate({"quiet_hours": {"start": "22:00", "end": "02:30"}})


@pytest.mark.parametrize(
    ("zone", "timing", "due", "expected"),
    [
        # New York, 2026-11-01: 01:00-02:00 runs twice (EDT, then EST). Due 01:15 EST (second pass)
        # is inside quiet hours; 01:30 EDT (05:30 UTC) came 45 minutes earlier, 01:30 EST is next.
        ("America/New_York", ENDS_0130, utc(2026, 11, 1, 6, 15), utc(2026, 11, 1, 6, 30)),
        # First pass, 01:15 EDT: 01:30 EDT is next.
        ("America/New_York", ENDS_0130, utc(2026, 11, 1, 5, 15), utc(2026, 11, 1, 5, 30)),
        # Between the passes (01:40 EDT is allowed): send now, though 01:00 EST will be quiet again.
        ("America/New_York", ENDS_0130, utc(2026, 11, 1, 5, 40), utc(2026, 11, 1, 5, 40)),
        # Berlin, 2026-10-25: 02:00-03:00 runs twice (CEST, then CET). Due 02:15 CET -> 02:30 CET.
        ("Europe/Berlin", ENDS_0230, utc(2026, 10, 25, 1, 15), utc(2026, 10, 25, 1, 30)),
        # Spring forward in New York, 2026-03-08 07:00 UTC: 01:59 EST -> 03:00 EDT, outside quiet hours.
        ("America/New_York", ENDS_0230, utc(2026, 3, 8, 6, 45), utc(2026, 3, 8, 7)),
        # Berlin, 2026-03-29 01:00 UTC: 02:00 CET -> 03:00 CEST.
        ("Europe/Berlin", ENDS_0230, utc(2026, 3, 29, 0, 45), utc(2026, 3, 29, 1)),
    ],
)
def test_dst_changes_never_send_early_or_late(zone: str, timing: Timing, due: datetime, expected: datetime) -> None:
    assert next_allowed(due, timing, ZoneInfo(zone)) == expected
    # The same instant written in the user's zone (fold set by astimezone) gives the same answer.
    assert next_allowed(due.astimezone(ZoneInfo(zone)), timing, ZoneInfo(zone)) == expected


def test_a_capped_message_moves_to_local_midnight_as_a_utc_instant() -> None:
    """Deferred by a daily cap to the next local day: the send time is a UTC instant, so arithmetic on it
    (the next stall step is `send_at + delay`) counts real hours, even across the autumn change."""
    timing = Timing.model_validate({"caps": {"overall_per_day": 1}, "default_timezone": "America/New_York"})
    progress = UserProgress.new("u1")
    now = utc(2026, 10, 31, 16)  # Saturday noon EDT; the clocks go back that night
    request = DeliveryRequest(
        delivery_id="d1", kind="nudge", channel="email", step=0, user_id="u1", playbook_id="pb",
        playbook_version="v", milestone_id="m", title="t", body="b", send_at=now,
    )  # fmt: skip
    assert isinstance(first := schedule(progress, timing, request, now), DeliveryRequest) and first.send_at == now
    second = schedule(progress, timing, request.model_copy(update={"delivery_id": "d2"}), now)
    assert isinstance(second, DeliveryRequest)
    assert second.send_at == utc(2026, 11, 1, 4) and second.send_at.utcoffset() == timedelta(0)  # 00:00 EDT
    assert (second.send_at + timedelta(days=1)).astimezone(UTC) == utc(2026, 11, 2, 4)  # 24 real hours later


def test_caps_count_the_local_day_where_midnight_is_skipped() -> None:
    """Sao Paulo, 2018-11-04: clocks jumped from 00:00 to 01:00, so the day starts at 01:00 (03:00 UTC)."""
    timing = Timing.model_validate({"caps": {"overall_per_day": 1}, "default_timezone": "America/Sao_Paulo"})
    progress = UserProgress.new("u1")
    now = utc(2018, 11, 3, 15)
    request = DeliveryRequest(
        delivery_id="d1", kind="nudge", channel="email", step=0, user_id="u1", playbook_id="pb",
        playbook_version="v", milestone_id="m", title="t", body="b", send_at=now,
    )  # fmt: skip
    schedule(progress, timing, request, now)
    second = schedule(progress, timing, request.model_copy(update={"delivery_id": "d2"}), now)
    assert isinstance(second, DeliveryRequest) and second.send_at == utc(2018, 11, 4, 3)
