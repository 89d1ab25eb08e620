"""Time to first value, ladder funnels and signup cohorts, from `UserFacts`.

Percentiles are numpy's linear interpolation (the same as a spreadsheet's
PERCENTILE.INC), so expectations can be checked by hand.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import numpy as np

from nudgeflow.orchestrator.analytics.results import (
    CohortCell,
    CohortResult,
    CohortRow,
    Distribution,
    FunnelResult,
    FunnelStep,
    HistogramBin,
    TtfvResult,
)
from nudgeflow.orchestrator.analytics.state import UserFacts
from nudgeflow.rules.schema import Playbook

WINDOWS = (1, 7, 30, 90)
HISTOGRAM = (("< 1h", 1), ("1–4h", 4), ("4–24h", 24), ("1–3d", 72), ("3–7d", 168), ("7–30d", 720), ("> 30d", None))

__all__ = [
    "CohortResult",
    "FunnelResult",
    "TtfvResult",
    "cohorts",
    "funnel",
    "ttfv",
    "distribution",
    "hours_between",
    "signup_week",
    "WINDOWS",
]


def hours_between(start: datetime, end: datetime) -> float:
    """Never negative: a completion stamped before the first event seen counts as immediate."""
    return max(0.0, (end - start).total_seconds() / 3600)


def distribution(values: Sequence[float], key: str = "all") -> Distribution:
    if not values:
        return Distribution(key=key, users=0, median_hours=None, p90_hours=None)
    data = np.asarray(values, dtype=float)
    return Distribution(
        key=key,
        users=len(values),
        median_hours=float(np.percentile(data, 50)),
        p90_hours=float(np.percentile(data, 90)),
    )


def signup_week(at: datetime) -> date:
    """Monday of the UTC week `at` falls in."""
    day = at.astimezone(UTC).date()
    return day - timedelta(days=day.weekday())


def _utc_week(user: UserFacts) -> date:
    assert user.signup_at is not None
    return signup_week(user.signup_at)


def ttfv(playbook: Playbook, users: Sequence[UserFacts]) -> TtfvResult:
    """Signup (first event) → completion of the playbook's `first_value` milestone, in hours."""
    assert playbook.first_value
    key = (playbook.id, playbook.first_value)
    values: list[tuple[UserFacts, float]] = []
    for user in users:
        done = user.completed.get(key)
        if done is not None and user.signup_at is not None:
            values.append((user, hours_between(user.signup_at, done)))
    by_cohort: dict[str, list[float]] = defaultdict(list)
    by_role: dict[str, list[float]] = defaultdict(list)
    for user, hours in values:
        by_cohort[_utc_week(user).isoformat()].append(hours)
        by_role[user.role].append(hours)
    return TtfvResult(
        playbook_id=playbook.id,
        first_value=playbook.first_value,
        entered=len(users),
        reached=len(values),
        overall=distribution([h for _, h in values]),
        by_cohort=[distribution(v, k) for k, v in sorted(by_cohort.items())],
        by_role=[distribution(v, k) for k, v in sorted(by_role.items())],
        histogram=_histogram([h for _, h in values]),
    )


def _histogram(values: Sequence[float]) -> list[HistogramBin]:
    counts = [0] * len(HISTOGRAM)
    for value in values:
        index = next(i for i, (_, upper) in enumerate(HISTOGRAM) if upper is None or value < upper)
        counts[index] += 1
    return [HistogramBin(label=label, count=count) for (label, _), count in zip(HISTOGRAM, counts, strict=True)]


def _median(values: Sequence[float]) -> float | None:
    return float(np.median(values)) if values else None


def funnel(playbook: Playbook, users: Sequence[UserFacts]) -> FunnelResult:
    """Strict funnel over the ladder order: step N counts users who completed steps 1..N."""
    steps: list[FunnelStep] = []
    remaining = [u for u in users if u.signup_at is not None]
    previous_count, previous_id = len(remaining), None
    for milestone in playbook.milestones:
        key = (playbook.id, milestone.id)
        any_order = sum(1 for u in users if key in u.completed)
        reached = [u for u in remaining if key in u.completed]
        gaps = []
        for user in reached:
            start = user.completed[(playbook.id, previous_id)] if previous_id else user.signup_at
            assert start is not None
            gaps.append(hours_between(start, user.completed[key]))
        steps.append(
            FunnelStep(
                milestone_id=milestone.id,
                title=milestone.title,
                reached=len(reached),
                completed_any_order=any_order,
                conversion_from_previous=len(reached) / previous_count if previous_count else None,
                conversion_from_start=len(reached) / len(users) if users else None,
                drop_off=previous_count - len(reached),
                median_hours_from_previous=_median(gaps),
            )
        )
        remaining, previous_count, previous_id = reached, len(reached), milestone.id
    return FunnelResult(playbook_id=playbook.id, entered=len(users), steps=steps)


def cohorts(
    playbook: Playbook, users: Sequence[UserFacts], windows: Sequence[int], as_of: datetime | None
) -> CohortResult:
    """Signup week × share who completed each milestone within N days of signup.

    A user counts for a window only once it has fully elapsed by `as_of`: counting early
    completers before the others are decided would inflate young cohorts (their share is
    None until someone's window is over).
    """
    weeks: dict[date, list[UserFacts]] = defaultdict(list)
    for user in users:
        weeks[_utc_week(user)].append(user)
    rows = []
    for week, members in sorted(weeks.items()):
        cells = []
        for milestone in playbook.milestones:
            for days in windows:
                eligible = completed = 0
                for user in members:
                    assert user.signup_at is not None
                    deadline = user.signup_at + timedelta(days=days)
                    done = user.completed.get((playbook.id, milestone.id))
                    hit = done is not None and done <= deadline
                    if as_of is not None and deadline <= as_of:
                        eligible += 1
                        completed += hit
                cells.append(
                    CohortCell(
                        milestone_id=milestone.id,
                        days=days,
                        eligible=eligible,
                        completed=completed,
                        share=completed / eligible if eligible else None,
                    )
                )
        rows.append(CohortRow(week=week, users=len(members), cells=cells))
    return CohortResult(
        playbook_id=playbook.id, windows=list(windows), milestones=[m.id for m in playbook.milestones], rows=rows
    )
