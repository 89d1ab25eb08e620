"""Events no rule listens to are answered without copying the user's progress, and only those."""

from __future__ import annotations

from pathlib import Path

from nudgeflow.rules import Engine
from nudgeflow.rules.contracts.events import TrackEvent
from nudgeflow.rules.contracts.users import UserProgress
from tests.support.rules import at, identify, ruleset_from, track

PLAYBOOK = """\
id: pb
name: PB
audience: {role: admin}
milestones:
  - id: first_report
    title: First report
    when: {event: Report Created}
    celebrate: [{channel: in_app, title: t, body: b}]
"""


def known_admin(engine: Engine) -> UserProgress:
    return engine.on_event(UserProgress.new("u1"), identify(role="admin", timezone="Europe/Paris"), at()).progress


def test_noise_event_returns_the_same_progress_and_no_decision(tmp_path: Path) -> None:
    engine = Engine(ruleset_from(tmp_path, PLAYBOOK))
    progress = known_admin(engine)
    result = engine.on_event(progress, track("Page Viewed", at(minutes=5)), at(minutes=5))
    assert result.progress is progress and result.decisions == []


def test_events_that_change_something_still_go_through_the_engine(tmp_path: Path) -> None:
    engine = Engine(ruleset_from(tmp_path, PLAYBOOK))
    progress = known_admin(engine)
    earlier = engine.on_event(progress, track("Page Viewed", at(minutes=-5)), at())
    assert earlier.progress.first_seen_at == at(minutes=-5)
    travelling = TrackEvent(
        type="track",
        messageId="tz",
        userId="u1",
        timestamp=at(minutes=5),
        event="Page Viewed",
        context={"timezone": "Asia/Tokyo"},
    )
    moved = engine.on_event(progress, travelling, at(minutes=5))
    assert moved.progress.timezone == "Asia/Tokyo"
    stranger = engine.on_event(UserProgress.new("u2"), track("Page Viewed", at(), user="u2"), at())
    assert stranger.progress.first_seen_at == at()
    widened = Engine(ruleset_from(tmp_path, PLAYBOOK.replace("id: pb", "id: pb2"), name="pb2.yaml"))
    entered = widened.on_event(progress, track("Page Viewed", at(minutes=5)), at(minutes=5))
    assert "pb2" in entered.progress.playbooks, "a playbook added by a reload is entered on the next event"
