"""Stall nudges and timing policy at the engine level (timers fired by hand)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.support.rules import T0, Run, at, identify, ruleset_from, track

STALL = """\
id: pb
name: PB
milestones:
  - id: connect
    title: Connect
    when: {event: Data Source Connected}
  - id: invite
    title: Invite
    when: {event: Teammate Invited}
stalls:
  - milestone: invite
    of: connect
    not_within: 3d
    nudges:
      - {channel: in_app, title: "Invite someone", body: "{{ progress.done }} of {{ progress.total }}"}
      - {channel: email, after: 2d, title: "Still solo?", body: "{{ milestone.title }}"}
    max_nudges: 3
"""


def fire(run: Run, arm, now: datetime | None = None) -> list:
    result = run.engine.on_timer(run.progress, arm.due(), now or arm.due_at)
    run.progress = result.progress
    run.decisions += result.decisions
    return result.decisions


def test_stall_arms_nudges_and_repeats_the_last_one(tmp_path: Path) -> None:
    run = Run(ruleset_from(tmp_path, STALL))
    [_, _, arm0] = run.send(track("Data Source Connected", T0))
    assert arm0.type == "arm_timer" and arm0.due_at == at(days=3) and arm0.nudge_step == 0
    nudge0, arm1 = fire(run, arm0)
    assert (nudge0.kind, nudge0.step, nudge0.channel, nudge0.body) == ("nudge", 0, "in_app", "1 of 2")
    assert arm1.due_at == at(days=5) and arm1.nudge_step == 1
    nudge1, arm2 = fire(run, arm1)
    assert (nudge1.channel, nudge1.body) == ("email", "Invite")
    [nudge2] = fire(run, arm2)  # max_nudges 3: the last nudge repeats once, then nothing more is armed
    assert nudge2.step == 2 and nudge2.channel == "email" and arm2.due_at == at(days=7)
    assert len({d.delivery_id for d in (nudge0, nudge1, nudge2)}) == 3
    assert run.progress.timers == {}


def test_completing_the_milestone_cancels_its_timer(tmp_path: Path) -> None:
    run = Run(ruleset_from(tmp_path, STALL))
    arm0 = run.send(track("Data Source Connected", T0))[-1]
    decisions = run.send(track("Teammate Invited", at(days=1)))
    assert [d.type for d in decisions] == ["milestone_completed", "cancel_timer"]
    assert decisions[1].timer_id == arm0.timer_id
    assert fire(run, arm0) == []  # a late fire of a cancelled timer sends nothing


def test_duplicate_fire_sends_once(tmp_path: Path) -> None:
    run = Run(ruleset_from(tmp_path, STALL))
    arm0 = run.send(track("Data Source Connected", T0))[-1]
    assert len(fire(run, arm0)) == 2
    assert fire(run, arm0) == []


def test_signup_and_event_stalls(tmp_path: Path) -> None:
    text = (
        STALL.replace("of: connect", "of: signup").replace("max_nudges: 3", "max_nudges: 1")
        + """\
  - milestone: invite
    of: Report Created
    not_within: 1d
    nudges: [{channel: in_app, title: "Share that report", body: "x"}]
"""
    )
    run = Run(ruleset_from(tmp_path, text))
    [signup_arm] = run.send(identify(T0, role="x"))
    assert signup_arm.due_at == at(days=3)
    [event_arm] = run.send(track("Report Created", at(hours=1)))
    assert event_arm.due_at == at(hours=25) and event_arm.stall_key == "invite<-Report Created"
    assert run.send(track("Report Created", at(hours=2))) == []  # the clock starts once


def test_quiet_hours_defer_to_local_morning(tmp_path: Path) -> None:
    text = STALL + (
        'timing: {quiet_hours: {start: "21:00", end: "08:00"}, default_timezone: Asia/Tokyo, channels: [in_app]}\n'
    )
    run = Run(ruleset_from(tmp_path, text.replace("not_within: 3d", "not_within: 10h")))
    arm0 = run.send(track("Data Source Connected", T0))[-1]  # due 22:00 UTC = 07:00 Tokyo
    nudge0, arm1 = fire(run, arm0)
    assert nudge0.send_at == datetime(2026, 3, 2, 23, 0, tzinfo=UTC)  # 08:00 Tokyo
    assert arm1.due_at == nudge0.send_at + timedelta(days=2)


def test_daily_cap_defers_or_suppresses(tmp_path: Path) -> None:
    celebrating = """\
id: pb
name: PB
timing: {caps: {per_channel_per_day: 1}}
milestones:
""" + "".join(
        f"""  - id: m{i}
    title: M{i}
    when: {{event: E{i}}}
    celebrate: [{{channel: in_app, title: t, body: b}}]
"""
        for i in range(3)
    )
    run = Run(ruleset_from(tmp_path, celebrating))
    sends = [run.send(track(f"E{i}", T0))[-1] for i in range(3)]
    assert [s.send_at.date().day for s in sends] == [2, 3, 4]  # one per day
    run = Run(
        ruleset_from(
            tmp_path, celebrating.replace("per_channel_per_day: 1", "per_channel_per_day: 1, when_exceeded: suppress")
        )
    )
    sends = [run.send(track(f"E{i}", T0))[-1] for i in range(3)]
    assert [s.type for s in sends] == ["delivery", "delivery_suppressed", "delivery_suppressed"]
    assert sends[1].reason == "cap"
