"""When a message may go out: quiet hours, send window and daily caps, in the user's time zone.

The rules are written in local wall-clock time ("not before 08:00"), but every
candidate send time is built and compared as a UTC instant. Comparing local
readings is wrong twice a year: in a repeated autumn hour 01:30 EDT comes
before 01:15 EST, and aware datetimes of one zone compare by wall clock,
ignoring `fold`. So both passes of a repeated hour are candidates, and a wall
time skipped in spring is replaced by the instant the clocks jump (the first
allowed instant after the gap, not an hour later).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from nudgeflow.rules.contracts.deliveries import DeliveryRequest
from nudgeflow.rules.contracts.users import UserProgress
from nudgeflow.rules.decisions import DeliverySuppressed
from nudgeflow.rules.schema import Timing

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SEARCH_DAYS = 15
_KEEP_DAYS = 8
_DAY = timedelta(days=1)
_OFFSET_PROBE = timedelta(hours=1)  # real zones never change offset twice within an hour


def user_zone(progress: UserProgress, timing: Timing) -> ZoneInfo:
    return ZoneInfo(progress.timezone or timing.default_timezone or "UTC")


def _inside(start: time, end: time, t: time) -> bool:
    if start == end:
        return False
    return start <= t < end if start < end else (t >= start or t < end)


def allowed(local: datetime, timing: Timing) -> bool:
    """May a message go out at this local wall-clock time (the reading of one instant in the user's zone)?"""
    clock = local.time().replace(tzinfo=None)
    if timing.quiet_hours and _inside(timing.quiet_hours.start, timing.quiet_hours.end, clock):
        return False
    window = timing.send_window
    if window is None:
        return True
    return _DAYS[local.weekday()] in window.days and (
        window.start == window.end or _inside(window.start, window.end, clock)
    )


def instants_at(day: date, clock: time, zone: ZoneInfo) -> list[datetime]:
    """The UTC instants whose wall time in `zone` reads `clock` on `day`: none in a spring-forward gap,
    two in a repeated autumn hour, else one."""
    wall = datetime.combine(day, clock)
    found = set()
    for fold in (0, 1):
        instant = wall.replace(tzinfo=zone, fold=fold).astimezone(UTC)
        if instant.astimezone(zone).replace(tzinfo=None) == wall:
            found.add(instant)
    return sorted(found)


def offset_changes(start: datetime, end: datetime, zone: ZoneInfo) -> list[datetime]:
    """The instants in (start, end] at which the zone's UTC offset changes (to the second)."""
    changes = []
    lo = start.astimezone(UTC).replace(microsecond=0)
    lo_offset = lo.astimezone(zone).utcoffset()
    while lo < end:
        hi = min(lo + _OFFSET_PROBE, end)
        hi_offset = hi.astimezone(zone).utcoffset()
        if hi_offset != lo_offset:
            changes.append(_first_with_offset(lo, hi, zone))
        lo, lo_offset = hi, hi_offset
    return [c for c in changes if start < c <= end]


def _first_with_offset(before: datetime, after: datetime, zone: ZoneInfo) -> datetime:
    """Bisect (before, after] for the first second already at `after`'s offset."""
    target = after.astimezone(zone).utcoffset()
    while after - before > timedelta(seconds=1):
        middle = before + timedelta(seconds=(after - before).total_seconds() // 2)
        if middle.astimezone(zone).utcoffset() == target:
            after = middle
        else:
            before = middle
    return after


def earliest(at: datetime, zone: ZoneInfo, ok: Callable[[datetime], bool], clocks: Iterable[time]) -> datetime | None:
    """The earliest UTC instant >= `at` whose local reading satisfies `ok`, within two weeks.

    `ok` may only turn true when the local reading crosses one of `clocks` (or midnight) or when the
    zone's offset changes, so those instants are the only candidates to test.
    """
    at = at.astimezone(UTC)
    if ok(at.astimezone(zone)):
        return at
    clocks = sorted({time(0), *clocks})
    start = at
    for _ in range(_SEARCH_DAYS):
        end = start + _DAY
        # A fall-back at midnight can move the local date backwards: look one day earlier too.
        first_day = start.astimezone(zone).date() - _DAY
        days = [first_day + timedelta(days=n) for n in range((end.astimezone(zone).date() - first_day).days + 1)]
        candidates = {i for day in days for clock in clocks for i in instants_at(day, clock, zone)}
        candidates.update(offset_changes(start, end, zone))
        for candidate in sorted(c for c in candidates if start < c <= end):
            if ok(candidate.astimezone(zone)):
                return candidate
        start = end
    return None


def next_allowed(at: datetime, timing: Timing, zone: ZoneInfo) -> datetime | None:
    """The earliest UTC instant >= `at` allowed by quiet hours and the send window."""
    openings = [
        t
        for t in (
            timing.quiet_hours.end if timing.quiet_hours else None,
            timing.send_window.start if timing.send_window else None,
        )
        if t is not None
    ]
    return earliest(at, zone, lambda local: allowed(local, timing), openings)


def start_of_next_day(day: date, zone: ZoneInfo, after: datetime) -> datetime:
    """The first instant after `after` whose local date is later than `day` (midnight may not exist)."""
    found = earliest(after, zone, lambda local: local.date() > day, [])
    assert found is not None, "a local day always ends within two weeks"
    return found


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
    """Move `send_at` (a UTC instant) to the next allowed time under caps; record it in the user's daily counts.
    A message to the user's CSM or a team channel keeps the send window but is not the user's: no caps."""
    zone = user_zone(progress, timing)
    timed = request.channel in timing.channels
    at: datetime | None = max(request.send_at, now).astimezone(UTC)
    if not request.to_the_user:
        at = next_allowed(at, timing, zone) if timed and at else at
        if at is None:
            return _suppressed(request, now, "cap", "no allowed time within two weeks (quiet hours, send window)")
        return request.model_copy(update={"send_at": at})
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
        at = start_of_next_day(day, zone, at)
    return _suppressed(request, now, "cap", "no allowed time within two weeks (caps, quiet hours, send window)")


def _suppressed(request: DeliveryRequest, now: datetime, reason: str, detail: str) -> DeliverySuppressed:
    return DeliverySuppressed(**request.identity(), reason=reason, detail=detail, at=now)
