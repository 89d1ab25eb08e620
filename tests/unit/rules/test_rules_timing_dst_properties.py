"""Property tests: the send time chosen for quiet hours and send windows, in zones with DST changes,
checked against a brute-force minute-by-minute scan in UTC."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nudgeflow.rules.contracts.deliveries import DeliveryRequest
from nudgeflow.rules.contracts.users import UserProgress
from nudgeflow.rules.schema import Caps, Timing
from nudgeflow.rules.timing import allowed, next_allowed, schedule

ZONES = (
    "America/New_York",
    "Europe/Berlin",
    "Australia/Lord_Howe",  # 30-minute DST
    "America/Sao_Paulo",  # DST until 2019, changing at midnight
    "Pacific/Chatham",  # +12:45 / +13:45
    "America/Santiago",
    "Europe/Dublin",  # negative DST in tzdata
    "Asia/Kolkata",
    "UTC",
)
MINUTE = timedelta(minutes=1)
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Clock times near the usual transition hours, plus any minute of the day.
NEAR_CHANGES = [time(h, m) for h in (0, 1, 2, 3, 23) for m in (0, 15, 30, 45)]
clocks = st.one_of(st.sampled_from(NEAR_CHANGES), st.builds(time, st.integers(0, 23), st.integers(0, 59)))


@cache
def transitions(zone_name: str) -> tuple[datetime, ...]:
    """Every offset change 2012-2031, found by an hourly scan refined minute by minute."""
    zone = ZoneInfo(zone_name)
    found = []
    at, end = datetime(2012, 1, 1, tzinfo=UTC), datetime(2032, 1, 1, tzinfo=UTC)
    offset = at.astimezone(zone).utcoffset()
    while at < end:
        later = at + timedelta(hours=1)
        if later.astimezone(zone).utcoffset() != offset:
            minute = at
            while minute.astimezone(zone).utcoffset() == offset:
                minute += MINUTE
            found.append(minute)
            offset = later.astimezone(zone).utcoffset()
        at = later
    return tuple(found)


@st.composite
def instants(draw: st.DrawFn, zone_name: str) -> datetime:
    """Mostly within three hours or a day and a half of an offset change, on whole minutes."""
    changes = transitions(zone_name)
    if changes and draw(st.integers(0, 4)):
        around = draw(st.sampled_from(changes))
        return around + draw(st.one_of(st.integers(-180, 180), st.integers(-36 * 60, 36 * 60))) * MINUTE
    return datetime(2012, 1, 1, tzinfo=UTC) + draw(st.integers(0, 20 * 365 * 24 * 60)) * MINUTE


@st.composite
def timings(draw: st.DrawFn) -> Timing:
    spec: dict[str, object] = {}
    spec["quiet_hours"] = {"start": draw(clocks).strftime("%H:%M"), "end": draw(clocks).strftime("%H:%M")}
    if draw(st.integers(0, 2)) == 0:
        days = draw(st.lists(st.sampled_from(DAYS), min_size=1, max_size=7, unique=True))
        spec["send_window"] = {
            "start": draw(clocks).strftime("%H:%M"),
            "end": draw(clocks).strftime("%H:%M"),
            "days": days,
        }
    return Timing.model_validate(spec)


def brute_force(at: datetime, timing: Timing, zone: ZoneInfo, limit: timedelta) -> datetime | None:
    """The first whole UTC minute from `at` whose local reading is allowed."""
    minute = at
    while minute <= at + limit:
        if allowed(minute.astimezone(zone), timing):
            return minute
        minute += MINUTE
    return None


@st.composite
def anchored(draw: st.DrawFn) -> tuple[str, datetime, Timing]:
    """Quiet hours that end near the wall time of an offset change, and a due time near it: the
    repeated and skipped hours themselves."""
    zone_name = draw(st.sampled_from([z for z in ZONES if transitions(z)]))
    change = draw(st.sampled_from(transitions(zone_name)))
    wall = change.astimezone(ZoneInfo(zone_name))
    end = (wall + draw(st.integers(-6, 6)) * timedelta(minutes=15)).time()
    start = draw(clocks)
    due = change + draw(st.integers(-150, 150)) * MINUTE
    return (
        zone_name,
        due,
        Timing.model_validate({"quiet_hours": {"start": start.strftime("%H:%M"), "end": end.strftime("%H:%M")}}),
    )


cases = st.one_of(
    st.sampled_from(ZONES).flatmap(lambda name: st.tuples(st.just(name), instants(name), timings())), anchored()
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases)
def test_the_chosen_instant_is_the_earliest_allowed_one(case: tuple[str, datetime, Timing]) -> None:
    zone_name, due, timing = case
    zone = ZoneInfo(zone_name)
    chosen = next_allowed(due, timing, zone)
    if chosen is None:  # quiet hours cover the whole send window: nothing allowed for two weeks
        assert brute_force(due, timing, zone, timedelta(days=14)) is None
        return
    assert chosen.utcoffset() == timedelta(0)
    assert chosen >= due, "never before it is due"
    assert allowed(chosen.astimezone(zone), timing), "never inside quiet hours or outside the window"
    assert brute_force(due, timing, zone, chosen - due) == chosen, "the earliest allowed instant"


@settings(max_examples=200, deadline=None)
@given(cases)
def test_the_answer_depends_on_the_instant_only(case: tuple[str, datetime, Timing]) -> None:
    """Deterministic, and the same whether `due` is written in UTC or in the user's zone (with its fold)."""
    zone_name, due, timing = case
    zone = ZoneInfo(zone_name)
    first = next_allowed(due, timing, zone)
    assert next_allowed(due, timing, zone) == first
    assert next_allowed(due.astimezone(zone), timing, zone) == first


@st.composite
def request_bursts(draw: st.DrawFn) -> tuple[str, Timing, int, list[datetime]]:
    """Several messages for one user around an offset change, under quiet hours and a daily cap."""
    zone_name, due, timing = draw(anchored())
    cap = draw(st.integers(1, 3))
    timing = timing.model_copy(update={"caps": Caps(per_channel_per_day=cap), "default_timezone": zone_name})
    steps = draw(st.lists(st.integers(0, 12 * 60), min_size=1, max_size=8))
    nows = [due + sum(steps[: i + 1]) * MINUTE for i in range(len(steps))]
    return zone_name, timing, cap, nows


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(request_bursts())
def test_capped_sends_stay_allowed_and_within_the_cap_of_each_local_day(
    burst: tuple[str, Timing, int, list[datetime]],
) -> None:
    zone_name, timing, cap, nows = burst
    zone = ZoneInfo(zone_name)
    progress = UserProgress.new("u1")
    sent: list[datetime] = []
    for n, now in enumerate(nows):
        request = DeliveryRequest(
            delivery_id=f"d{n}", kind="nudge", channel="email", step=0, user_id="u1", playbook_id="pb",
            playbook_version="v", milestone_id="m", title="t", body="b", send_at=now,
        )  # fmt: skip
        scheduled = schedule(progress, timing, request, now)
        if isinstance(scheduled, DeliveryRequest):
            at = scheduled.send_at
            assert at.utcoffset() == timedelta(0) and at >= now and allowed(at.astimezone(zone), timing)
            sent.append(at)
    per_day = Counter(at.astimezone(zone).date() for at in sent)
    assert max(per_day.values(), default=0) <= cap, per_day
