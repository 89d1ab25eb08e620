"""Small builders for scripted event and outcome streams (times in hours after T0)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from nudgeflow.rules.schema import Playbook

T0 = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday

PLAYBOOK = Playbook.model_validate(
    {
        "id": "trial",
        "name": "Trial",
        "audience": {"role": "admin"},
        "first_value": "a",
        "milestones": [
            {"id": "a", "title": "Do A", "when": {"event": "A Done"}},
            {"id": "b", "title": "Do B", "when": {"event": "B Done", "after": "a"}},
            {"id": "c", "title": "Do C", "when": {"event": "C Done"}},
        ],
    }
)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def track(user: str, msg: str, hours: float, event: str = "Page Viewed", **props: Any) -> dict[str, Any]:
    return {
        "type": "track",
        "messageId": msg,
        "userId": user,
        "timestamp": at(hours).isoformat(),
        "event": event,
        "properties": props,
    }


def identify(user: str, msg: str, hours: float, **traits: Any) -> dict[str, Any]:
    return {"type": "identify", "messageId": msg, "userId": user, "timestamp": at(hours).isoformat(), "traits": traits}


def outcome(
    record_kind: str,
    user: str,
    hours: float,
    milestone: str | None = None,
    playbook: str | None = "trial",
    oid: str | None = None,
    **attributes: Any,
) -> dict[str, Any]:
    return {
        "outcome_id": oid or f"{record_kind}:{user}:{playbook}:{milestone}:{hours}",
        "kind": record_kind,
        "user_id": user,
        "occurred_at": at(hours).isoformat(),
        "recorded_at": at(hours).isoformat(),
        "playbook_id": playbook,
        "milestone_id": milestone,
        "attributes": attributes,
    }


def completed(user: str, hours: float, milestone: str) -> dict[str, Any]:
    return outcome("milestone_completed", user, hours, milestone, oid=f"milestone_completed:{user}:trial:{milestone}")


def unlocked(user: str, hours: float, milestone: str) -> dict[str, Any]:
    return outcome("milestone_unlocked", user, hours, milestone, oid=f"milestone_unlocked:{user}:trial:{milestone}")


def exposure(user: str, hours: float, experiment: str, variant: str, playbook: str | None = "trial") -> dict[str, Any]:
    return outcome(
        "exposure",
        user,
        hours,
        None,
        playbook,
        oid=f"exposure:{user}:{experiment}",
        experiment=experiment,
        variant=variant,
    )


D = 24  # hours in a day

# The scripted story (see test_analytics_metrics.py for the hand-computed expectations).
EVENTS = [
    identify("u1", "u1-id", 1, role="admin"),
    track("u1", "u1-a", 2, "A Done"),
    track("u1", "u1-b", 26, "B Done"),
    track("u1", "u1-a2", 30, "A Done"),
    identify("u2", "u2-id", 1, role="admin"),
    track("u2", "u2-b-early", 5, "B Done"),
    track("u2", "u2-a", 11, "A Done"),
    identify("u3", "u3-id", 7 * D, role="admin"),
    track("u3", "u3-a", 7 * D + 4, "A Done"),
    identify("u4", "u4-id", 8 * D, role="admin"),
    identify("u5", "u5-id", 2, role="operator"),
    track("u1", "u1-a", 2, "A Done"),  # duplicate messageId
    track("u1", "u1-late", 0),  # late: u1's real first event, arriving last
]
OUTCOMES = [
    completed("u1", 2, "a"),
    unlocked("u1", 2, "b"),
    completed("u1", 26, "b"),
    unlocked("u1", 26, "c"),
    completed("u2", 11, "a"),
    unlocked("u2", 11, "b"),
    completed("u3", 7 * D + 4, "a"),
    unlocked("u3", 7 * D + 4, "b"),
    outcome("delivered", "u2", 3 * D, "b", kind="nudge", step=0),
    outcome("delivery_suppressed", "u1", 3, "b", kind="nudge", reason="holdout"),
    exposure("u3", 7 * D, "stall-nudges", "holdout"),
    outcome("nudge_scheduled", "u3", 7 * D, "a", due_at=at(7 * D + 2).isoformat(), step=0),
    outcome("delivered", "u4", 8 * D + 1, "a", kind="nudge", step=0),
    completed("u1", 2, "a"),  # duplicate outcome_id
]
AS_OF = at(8 * D + 12)


def comparable(value: Any) -> Any:
    """A report's JSON with floats to 9 significant digits: two engines may sum in another order."""
    if isinstance(value, float):
        return float(f"{value:.9g}")
    if isinstance(value, dict):
        return {k: comparable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [comparable(v) for v in value]
    return value
