"""Per-user facts folded from events and outcomes.

Every fact is an order-independent fold (earliest time, latest-by-event-time trait,
set of message ids), so late, out-of-order and replayed records give the same
state as a tidy stream: that is what makes backfill by replay correct.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

Key = tuple[str, str]  # (playbook_id, milestone_id)


@dataclass(slots=True)
class Exposure:
    variant: str
    at: datetime
    outcome_id: str
    playbook_id: str | None


@dataclass(slots=True)
class UserFacts:
    user_id: str
    first_event_at: datetime | None = None
    first_outcome_at: datetime | None = None
    traits: dict[str, tuple[datetime, str, Any]] = field(default_factory=dict)
    uses: dict[str, list[datetime]] = field(default_factory=dict)
    playbooks: set[str] = field(default_factory=set)
    completed: dict[Key, datetime] = field(default_factory=dict)
    unlocked: dict[Key, datetime] = field(default_factory=dict)
    nudged: dict[Key, datetime] = field(default_factory=dict)
    held_out: dict[Key, datetime] = field(default_factory=dict)
    nudge_due: dict[Key, datetime] = field(default_factory=dict)
    exposures: dict[str, list[Exposure]] = field(default_factory=dict)

    @property
    def signup_at(self) -> datetime | None:
        """The user's first product event; the first outcome only if no event was ever seen."""
        return self.first_event_at or self.first_outcome_at

    @property
    def role(self) -> str:
        value = self.traits.get("role")
        return str(value[2]) if value is not None and value[2] is not None else "unknown"

    def trait_values(self) -> dict[str, Any]:
        return {key: value for key, (_, _, value) in self.traits.items()}

    def set_trait(self, key: str, value: Any, at: datetime, message_id: str) -> None:
        """Latest identify by event time wins, ties broken by messageId: order-independent."""
        current = self.traits.get(key)
        if current is None or (at, message_id) > (current[0], current[1]):
            self.traits[key] = (at, message_id, value)

    def exposure(self, experiment: str) -> Exposure | None:
        """First exposure by event time: a user counts in one variant only."""
        seen = self.exposures.get(experiment)
        return min(seen, key=lambda e: (e.at, e.outcome_id)) if seen else None


def earliest(current: datetime | None, candidate: datetime) -> datetime:
    return candidate if current is None or candidate < current else current


def keep_earliest(facts: dict[Key, datetime], key: Key, at: datetime) -> None:
    facts[key] = earliest(facts.get(key), at)
