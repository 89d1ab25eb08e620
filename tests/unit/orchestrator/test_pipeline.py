"""The pipeline step the worker and the simulator share: one user's record + one input + now →
the new record and what to publish. No broker, no clock: every time is given."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from nudgeflow.channels.preferences.store import PreferencesStore
from nudgeflow.orchestrator.ingest.decode import Rejected
from nudgeflow.orchestrator.pipeline import FixedEngine, PipelineStep, StepResult, decode_timer
from nudgeflow.orchestrator.rules_holder import RulesHolder
from nudgeflow.rules import Engine
from nudgeflow.rules.contracts.timers import TimerCommand
from nudgeflow.rules.contracts.users import SEND_TIMER_PREFIX, UserRecord
from tests.support.playbooks import onboarding_playbook
from tests.support.rules import T0, at, identify, ruleset_from, track
from tests.support.rules import identify as identify_event
from tests.support.rules import track as track_event

NIGHT = datetime(2026, 3, 2, 22, 30, tzinfo=UTC)  # 23:30 in Paris: inside 21:00-08:00 quiet hours


@pytest.fixture
def step(tmp_path: Path) -> PipelineStep:
    return PipelineStep(FixedEngine(Engine(ruleset_from(tmp_path, onboarding_playbook()))), dedupe_window=50)


def admin(step: PipelineStep, user: str = "u1", when: datetime = T0, timezone: str = "UTC") -> UserRecord:
    return step.on_event(UserRecord.new(user), identify(when, user=user, timezone=timezone, role="admin"), when).record


def fire(step: PipelineStep, record: UserRecord, timer_id: str, due_at: datetime) -> StepResult:
    command = TimerCommand(user_id=record.progress.user_id, timer_id=timer_id, due_at=due_at)
    return step.on_timer(record, command, due_at)


def test_a_milestone_event_gives_prompt_delivery_outcomes_and_arms_the_stall_timer(step: PipelineStep) -> None:
    record = admin(step)
    result = step.on_event(record, track("Data Source Connected", at(minutes=1)), at(minutes=1))
    assert result.status == "processed" and result.changed
    assert [p.title for p in result.prompts] == ["Connected"]
    assert [d.channel for d in result.deliveries] == ["email"]
    assert [r.channel for r in result.sent] == ["in_app", "email"]
    kinds = [o.kind for o in result.outcomes]
    assert "milestone_completed" in kinds and "delivered" in kinds and "delivery_requested" in kinds
    assert "nudge_scheduled" in kinds
    [(timer_id, due)] = result.timers.items()
    assert due == at(hours=2, minutes=1) and timer_id in result.record.progress.timers


def test_de_duplication_is_per_user(step: PipelineStep) -> None:
    ana, bo = admin(step, "ana"), admin(step, "bo")
    event = track("Data Source Connected", at(minutes=1), user="ana")
    first = step.on_event(ana, event, at(minutes=1))
    # Another user's event with the same messageId is not a duplicate: ids are unique per source, not globally.
    other = step.on_event(bo, event.model_copy(update={"userId": "bo"}), at(minutes=1))
    again = step.on_event(first.record, event, at(minutes=2))
    assert first.status == "processed" and other.status == "processed" and len(other.prompts) == 1
    assert again.status == "duplicate" and not again.changed
    assert (again.prompts, again.deliveries, again.outcomes) == ([], [], [])


def test_an_event_no_rule_listens_to_changes_nothing_and_is_not_remembered(step: PipelineStep) -> None:
    record = admin(step)
    result = step.on_event(record, track("Page Viewed", at(minutes=1), path="/"), at(minutes=1))
    assert result.status == "unchanged" and not result.changed
    assert result.record is record and not result.outcomes


def test_sends_in_quiet_hours_wait_in_the_record_and_go_out_when_their_timer_fires(step: PipelineStep) -> None:
    record = admin(step, when=NIGHT, timezone="Europe/Paris")
    result = step.on_event(record, track("Data Source Connected", NIGHT), NIGHT)
    assert result.prompts == [] and result.deliveries == [] and result.sent == []
    assert [o.kind for o in result.outcomes].count("delivery_deferred") == 2
    morning = datetime(2026, 3, 3, 7, 0, tzinfo=UTC)  # 08:00 in Paris
    sends = {t: due for t, due in result.timers.items() if t.startswith(SEND_TIMER_PREFIX)}
    assert set(sends.values()) == {morning} and len(sends) == 2

    record = result.record
    early = fire(step, record, next(iter(sends)), morning - timedelta(minutes=5))
    assert early.status == "stale", "a command for an earlier due time is not this send's"
    sent: list[str] = []
    for timer_id in sends:
        fired = fire(step, record, timer_id, morning)
        assert fired.status == "fired"
        sent += [r.channel for r in fired.sent]
        record = fired.record
    assert sorted(sent) == ["email", "in_app"] and record.deferred == {}
    assert fire(step, record, next(iter(sends)), morning).status == "stale", "fired once"


def test_identify_traits_set_preferences_that_hold_back_in_app_prompts(tmp_path: Path) -> None:
    store = PreferencesStore()
    step = PipelineStep(
        FixedEngine(Engine(ruleset_from(tmp_path, onboarding_playbook()))), dedupe_window=50, preferences=store
    )
    opt_out = identify(T0, role="admin", nudgeflow_opt_out_channels=["in_app"])
    result = step.on_event(UserRecord.new("u1"), opt_out, T0)
    assert result.preferences is not None and result.preferences.opt_out_channels == ["in_app"]
    assert store.get("u1").opt_out_channels == [], "the step publishes the change, it does not apply it"
    store.apply(result.preferences)

    connected = step.on_event(result.record, track("Data Source Connected", at(minutes=1)), at(minutes=1))
    assert connected.prompts == [] and [d.channel for d in connected.deliveries] == ["email"]
    suppressed = [o for o in connected.outcomes if o.kind == "delivery_suppressed"]
    assert [(o.channel, o.attributes["reason"]) for o in suppressed] == [("in_app", "preferences")]


def test_malformed_preference_traits_are_ignored_not_fatal(tmp_path: Path) -> None:
    step = PipelineStep(
        FixedEngine(Engine(ruleset_from(tmp_path, onboarding_playbook()))),
        dedupe_window=50,
        preferences=PreferencesStore(),
    )
    result = step.on_event(UserRecord.new("u1"), identify(T0, role="admin", nudgeflow_unsubscribed="maybe"), T0)
    assert result.status == "processed" and result.preferences is None


def test_completing_the_milestone_disarms_the_stall_and_its_late_command_is_stale(step: PipelineStep) -> None:
    record = step.on_event(admin(step), track("Data Source Connected", at(minutes=1)), at(minutes=1)).record
    [(timer_id, due)] = record.due_times().items()
    invited = step.on_event(record, track("Teammate Invited", at(hours=1)), at(hours=1))
    assert invited.timers == {} and [p.title for p in invited.prompts] == ["Team work"]
    assert fire(step, invited.record, timer_id, due).status == "stale"


def test_a_due_stall_timer_nudges_and_arms_the_next_step(step: PipelineStep) -> None:
    record = step.on_event(admin(step), track("Data Source Connected", at(minutes=1)), at(minutes=1)).record
    [(timer_id, due)] = record.due_times().items()
    nudged = fire(step, record, timer_id, due)
    assert [p.title for p in nudged.prompts] == ["Invite someone"]
    assert list(nudged.timers.values()) == [due + timedelta(hours=5)]


def test_decode_timer_never_raises() -> None:
    assert isinstance(decode_timer(b"not json"), Rejected)
    assert isinstance(decode_timer(b'{"user_id": "u"}'), Rejected)
    assert isinstance(decode_timer(None), Rejected)
    command = TimerCommand(user_id="u", timer_id="t", due_at=T0)
    assert decode_timer(command.model_dump_json().encode()) == command


def test_the_prefilter_reads_what_rules_read_plus_identify_and_clicks(tmp_path: Path) -> None:
    """What the ingest stage drops: track events no milestone or stall names (the noise of a product)."""
    (tmp_path / "pb.yaml").write_text(
        "id: pb\nname: PB\nmilestones:\n  - id: connect\n    title: Connect\n    when: {event: Source Connected}\n"
        "stalls:\n  - milestone: connect\n    of: Trial Started\n    not_within: 1d\n"
        "    nudges: [{channel: in_app, title: Connect a source, body: It takes a minute}]\n"
    )
    step = PipelineStep(RulesHolder.from_path(tmp_path), dedupe_window=10)
    assert step.reads(track_event("Source Connected"))
    assert step.reads(track_event("Trial Started"))  # a stall's start
    assert step.reads(identify_event())
    assert step.reads(track_event("Prompt Clicked", delivery_id="d", link="cta"))  # a click outcome
    assert not step.reads(track_event("Page Viewed"))
