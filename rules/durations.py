"""Plain-text durations ("48h", "7d", "1h30m") and times of day ("21:00") for playbooks.

CS people write playbooks by hand, so parsing is strict and every error says
what a valid value looks like instead of echoing a regex.
"""

from __future__ import annotations

import re
from datetime import time, timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

from nudgeflow.rules.problems import short_repr

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_PART = re.compile(r"(\d+)\s*([smhdw])")
_WHOLE = re.compile(r"^\s*(?:\d+\s*[smhdw]\s*)+$")
_CLOCK = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*$")


def parse_duration(value: Any) -> timedelta:
    """'90s', '30m', '48h', '7d', '2w' or combinations like '1h30m' -> timedelta."""
    if isinstance(value, timedelta):
        return value
    text = value if isinstance(value, str) else short_repr(value)
    if not isinstance(value, str) or not _WHOLE.match(value.lower()):
        raise ValueError(
            f"{text!r} is not a duration: use a number and a unit like 48h or 7d "
            "(s=seconds, m=minutes, h=hours, d=days, w=weeks)"
        )
    total = timedelta()
    for number, unit in _PART.findall(value.lower()):
        total += timedelta(**{_UNITS[unit]: int(number)})
    return total


def format_duration(value: timedelta) -> str:
    """Inverse of parse_duration, using the largest exact units ('1d2h')."""
    seconds = int(value.total_seconds())
    if seconds == 0:
        return "0s"
    out = []
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            out.append(f"{count}{unit}")
    return "".join(out)


def _positive(value: Any) -> timedelta:
    parsed = parse_duration(value)
    if parsed <= timedelta(0):
        raise ValueError(f"{value!r} must be longer than zero, e.g. 48h or 7d")
    return parsed


def parse_clock(value: Any) -> time:
    """'21:00' -> time(21, 0); a bare int or '9pm' is rejected with an example."""
    if isinstance(value, time):
        return value
    match = _CLOCK.match(value) if isinstance(value, str) else None
    if match is None or int(match[1]) > 23 or int(match[2]) > 59:
        shown = value if isinstance(value, str) else short_repr(value)
        raise ValueError(f'{shown!r} is not a time of day: write it as HH:MM in 24-hour time, in quotes, like "21:00"')
    return time(int(match[1]), int(match[2]))


_serialize_duration = PlainSerializer(format_duration, return_type=str)

Duration = Annotated[timedelta, BeforeValidator(_positive), _serialize_duration]
"""A duration longer than zero (windows, stall thresholds)."""

Delay = Annotated[timedelta, BeforeValidator(parse_duration), _serialize_duration]
"""A duration that may be zero (delay before a nudge)."""

ClockTime = Annotated[
    time, BeforeValidator(parse_clock), PlainSerializer(lambda t: t.strftime("%H:%M"), return_type=str)
]


def describe_duration(value: timedelta) -> str:
    """How long, in words for a message: '45 minutes', '5 hours', '2 days 4 hours' (two units at most)."""
    minutes = max(0, int(value.total_seconds()) // 60)
    days, rest = divmod(minutes, 1440)
    hours, minutes = divmod(rest, 60)
    parts = [(days, "day"), (hours, "hour")] if days else [(hours, "hour"), (minutes, "minute")]
    words = [f"{count} {unit}{'' if count == 1 else 's'}" for count, unit in parts if count]
    return " ".join(words) or "less than a minute"
