"""Quiet hours and send windows in the user's zone, across DST changes."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from nudgeflow.rules.schema import Timing
from nudgeflow.rules.timing import next_allowed

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


def test_window_opening_inside_a_dst_gap_moves_forward() -> None:
    timing = Timing.model_validate({"quiet_hours": {"start": "00:00", "end": "02:30"}})
    # 02:30 does not exist in Paris on 2026-03-29; the next real instant is 03:30 CEST = 01:30 UTC.
    assert next_allowed(utc(2026, 3, 28, 23, 30), timing, ZoneInfo("Europe/Paris")) == utc(2026, 3, 29, 1, 30)
