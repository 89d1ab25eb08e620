"""IANA time zone names, validated once for events and playbooks alike."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator


def check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{value!r} is not a time zone: use an IANA name like Europe/Paris") from exc
    return value


IanaTimezone = Annotated[str, AfterValidator(check_timezone)]
