from __future__ import annotations

from datetime import time, timedelta

import pytest

from nudgeflow.rules.durations import describe_duration, format_duration, parse_clock, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("30m", timedelta(minutes=30)),
        ("48h", timedelta(hours=48)),
        ("7d", timedelta(days=7)),
        ("2w", timedelta(weeks=2)),
        ("1h30m", timedelta(minutes=90)),
        ("7D", timedelta(days=7)),
    ],
)
def test_durations_parse(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected
    assert parse_duration(format_duration(expected)) == expected


@pytest.mark.parametrize("bad", ["2 days", "7", 7, "", "d7", "1.5h", None, "48 hours"])
def test_bad_durations_explain_the_format(bad: object) -> None:
    with pytest.raises(ValueError, match="is not a duration: use a number and a unit like 48h or 7d"):
        parse_duration(bad)


def test_clock_times() -> None:
    assert parse_clock("21:00") == time(21, 0)
    assert parse_clock("8:30") == time(8, 30)
    for bad in ["25:00", "9pm", 1260, "21h"]:
        with pytest.raises(ValueError, match="HH:MM"):
            parse_clock(bad)


@pytest.mark.parametrize(
    ("waited", "words"),
    [
        (timedelta(seconds=20), "less than a minute"),
        (timedelta(minutes=1), "1 minute"),
        (timedelta(hours=5, minutes=3), "5 hours 3 minutes"),
        (timedelta(days=1), "1 day"),
        (timedelta(days=2, hours=4, minutes=59), "2 days 4 hours"),
        (timedelta(seconds=-5), "less than a minute"),
    ],
)
def test_how_long_a_user_has_waited_reads_as_words(waited: timedelta, words: str) -> None:
    assert describe_duration(waited) == words
