"""When a message may go out: quiet hours, send window and daily caps, in the user's time zone.

Pure calendar arithmetic with zoneinfo; local wall-clock rules are evaluated on
local times so a DST change moves the UTC instant, not the user's 08:00.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from nudgeflow.rules.contracts.deliveries import DeliveryRequest
from nudgeflow.rules.contracts.users import UserProgress
from nudgeflow.rules.decisions import DeliverySuppressed
from nudgeflow.rules.schema import Timing

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SEARCH_DAYS = 15
_KEEP_DAYS = 8


def user_zone(progress: UserProgress, timing: Timing) -> ZoneInfo:
    return ZoneInfo(progress.timezone or timing.default_timezone or "UTC")


def _inside(start: time, end: time, t: time) -> bool:
    if start == end:
        return False
    return start <= t < end if start < end else (t >= start or t < end)


def allowed(local: datetime, timing: Timing) -> bool:
    """May a message go out at this local wall-clock time?"""
    clock = local.time().replace(tzinfo=None)
    if timing.quiet_hours and _inside(timing.quiet_hours.start, timing.quiet_hours.end, clock):
        return False
    window = timing.send_window
    if window is None:
        return True
    return _DAYS[local.weekday()] in window.days and (
        window.start == window.end or _inside(window.start, window.end, clock)
    )


def _local(day: date, clock: time, zone: ZoneInfo) -> datetime:
    """Wall time on a day, normalised through UTC so a DST gap (02:30) moves forward."""
    return datetime.combine(day, clock, tzinfo=zone).astimezone(ZoneInfo("UTC")).astimezone(zone)


def next_allowed(at: datetime, timing: Timing, zone: ZoneInfo) -> datetime | None:
    """The earliest instant >= `at` allowed by quiet hours and the send window."""
    local = at.astimezone(zone)
    if allowed(local, timing):
        return at
    openings = [
        t
        for t in (
            timing.quiet_hours.end if timing.quiet_hours else None,
            timing.send_window.start if timing.send_window else None,
        )
        if t is not None
    ]
    candidates = sorted(
        _local(local.date() + timedelta(days=d), clock, zone)
        for d in range(_SEARCH_DAYS)
        for clock in [time(0), *openings]
    )
    return next((c.astimezone(at.tzinfo) for c in candidates if c > local and allowed(c, timing)), None)


def _over_cap(progress: UserProgress, day: str, channel: str, timing: Timing) -> bool:
    counts = progress.sent_per_day.get(day, {})
    caps = timing.caps
    return (caps.per_channel_per_day is not None and counts.get(channel, 0) >= caps.per_channel_per_day) or (
        caps.overall_per_day is not None and counts.get("*", 0) >= caps.overall_per_day
    )


def _record(progress: UserProgress, day: str, channel: str) -> None:
    counts = progress.sent_per_day.setdefault(day, {})
    counts[channel] = counts.get(channel, 0) + 1
    counts["*"] = counts.get("*", 0) + 1
    for old in sorted(progress.sent_per_day)[:-_KEEP_DAYS]:
        del progress.sent_per_day[old]


def schedule(
    progress: UserProgress, timing: Timing, request: DeliveryRequest, now: datetime
) -> DeliveryRequest | DeliverySuppressed:
    """Move `send_at` to the next allowed time under caps; record it in the user's daily counts."""
    zone = user_zone(progress, timing)
    timed = request.channel in timing.channels
    at: datetime | None = max(request.send_at, now)
    for _ in range(_SEARCH_DAYS):
        if timed:
            at = next_allowed(at, timing, zone) if at else None
        if at is None:
            break
        day = at.astimezone(zone).date()
        if not _over_cap(progress, day.isoformat(), request.channel, timing):
            _record(progress, day.isoformat(), request.channel)
            return request.model_copy(update={"send_at": at})
        if timing.caps.when_exceeded == "suppress":
            return _suppressed(request, now, "cap", f"daily cap reached for {day.isoformat()}")
        at = _local(day + timedelta(days=1), time(0), zone)
    return _suppressed(request, now, "cap", "no allowed time within two weeks (caps, quiet hours, send window)")


def _suppressed(request: DeliveryRequest, now: datetime, reason: str, detail: str) -> DeliverySuppressed:
    return DeliverySuppressed(**request.identity(), reason=reason, detail=detail, at=now)
