"""Small builders so tests read like the scenario they check."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path
from typing import Any

from nudgeflow.rules import Engine, Ruleset, load_ruleset
from nudgeflow.rules.contracts.events import IdentifyEvent, TrackEvent
from nudgeflow.rules.contracts.users import UserProgress

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday, noon UTC
_ids = count()


def at(**delta: float) -> datetime:
    return T0 + timedelta(**delta)


def track(name: str, when: datetime = T0, user: str = "u1", **properties: Any) -> TrackEvent:
    return TrackEvent(
        type="track", messageId=f"m{next(_ids)}", userId=user, timestamp=when, event=name, properties=properties
    )


def identify(when: datetime = T0, user: str = "u1", timezone: str | None = None, **traits: Any) -> IdentifyEvent:
    context = {"timezone": timezone} if timezone else {}
    return IdentifyEvent(
        type="identify", messageId=f"m{next(_ids)}", userId=user, timestamp=when, traits=traits, context=context
    )


def ruleset_from(tmp_path: Path, text: str, name: str = "pb.yaml") -> Ruleset:
    file = tmp_path / name
    file.write_text(textwrap.dedent(text))
    return load_ruleset(file)


class Run:
    """Feed events to an Engine for one user, keeping progress and all decisions."""

    def __init__(self, ruleset: Ruleset, user: str = "u1"):
        self.engine = Engine(ruleset)
        self.progress = UserProgress.new(user)
        self.decisions: list[Any] = []

    def send(self, event: TrackEvent | IdentifyEvent, now: datetime | None = None) -> list[Any]:
        result = self.engine.on_event(self.progress, event, now or event.timestamp)
        self.progress = result.progress
        self.decisions += result.decisions
        return result.decisions

    def of_type(self, kind: str) -> list[Any]:
        return [d for d in self.decisions if d.type == kind]

    def completed(self) -> list[str]:
        return [d.milestone_id for d in self.of_type("milestone_completed")]
