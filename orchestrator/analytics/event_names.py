"""`nudgeflow events unknown`: the rules' event names held against what the stream really carries.

A misspelled event name in a playbook (`Data Source Conected`) passes every check and the step
never completes. The analytics database knows which track events arrived and when, so two lists
catch it: names the rules wait for that the stream has not carried in the last N days, and names
the stream carries that look like a misspelling of one the rules wait for.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import datetime, timedelta

import duckdb

from nudgeflow.rules.ruleset import Ruleset

LOOKALIKE_CUTOFF = 0.8

SEEN_SQL = """
SELECT event, count(*) AS n, max(ts) AS last_seen
FROM events
WHERE type = 'track' AND event IS NOT NULL AND ts >= $since AND ts <= $until
GROUP BY event
"""


@dataclass(frozen=True)
class Unseen:
    event: str
    used_by: tuple[str, ...]  # playbook / milestone or stall that waits for it


@dataclass(frozen=True)
class Lookalike:
    seen: str  # carried by the stream
    count: int
    referenced: str  # what the rules wait for


@dataclass(frozen=True)
class EventNameReport:
    since: datetime
    until: datetime
    unseen: list[Unseen]
    lookalikes: list[Lookalike]

    @property
    def clean(self) -> bool:
        return not self.unseen and not self.lookalikes


def referenced_events(ruleset: Ruleset) -> dict[str, list[str]]:
    """Every event name a milestone or stall waits for, with who waits for it."""
    users: dict[str, list[str]] = {}
    for playbook in ruleset.playbooks:
        for milestone in playbook.milestones:
            users.setdefault(milestone.when.event, []).append(f"{playbook.id} / {milestone.id}")
        for stall in playbook.stalls:
            if stall.of_is_event:
                users.setdefault(stall.of, []).append(f"{playbook.id} / stall of {stall.of}")
    return users


def newest_event(connection: duckdb.DuckDBPyConnection) -> datetime | None:
    row = connection.execute("SELECT max(ts) FROM events").fetchone()
    return row[0] if row and row[0] is not None else None


def event_name_report(
    connection: duckdb.DuckDBPyConnection, ruleset: Ruleset, *, days: int, until: datetime
) -> EventNameReport:
    since = until - timedelta(days=days)
    seen = {
        str(name): int(n) for name, n, _ in connection.execute(SEEN_SQL, {"since": since, "until": until}).fetchall()
    }
    referenced = referenced_events(ruleset)
    unseen = [Unseen(name, tuple(users)) for name, users in sorted(referenced.items()) if name not in seen]
    lookalikes = []
    for name, count in sorted(seen.items()):
        if name in referenced:
            continue
        close = difflib.get_close_matches(name, list(referenced), n=1, cutoff=LOOKALIKE_CUTOFF)
        if close:
            lookalikes.append(Lookalike(name, count, close[0]))
    return EventNameReport(since, until, unseen, lookalikes)
