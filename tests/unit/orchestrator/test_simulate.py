"""The simulator on a virtual clock: what a CS person previews before going live."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from nudgeflow.orchestrator.analytics.folder import open_folder
from nudgeflow.orchestrator.simulate import simulate
from nudgeflow.orchestrator.simulate_cli import run_simulate
from nudgeflow.rules import load_ruleset
from tests.support.rules import T0, at, identify, ruleset_from, track

REPO = Path(__file__).resolve().parents[3]

NUDGES = """\
id: pb
name: PB
milestones:
  - id: connect
    title: Connect
    when: {event: Data Source Connected}
    celebrate: [{channel: email, title: "Yay", body: "{{ progress.done }} of {{ progress.total }}"}]
  - id: invite
    title: Invite
    when: {event: Teammate Invited}
stalls:
  - milestone: invite
    of: connect
    not_within: 1d
    nudges:
      - {channel: email, title: "Invite someone", body: "b"}
    max_nudges: 3
timing:
  quiet_hours: {start: "21:00", end: "08:00"}
"""


def deliveries(report) -> list:  # noqa: ANN001
    return report.of_type("delivery")


def test_stall_nudges_fire_in_time_order_then_stop_when_done(tmp_path: Path) -> None:
    rules = ruleset_from(tmp_path, NUDGES)
    events = [track("Data Source Connected", T0), track("Teammate Invited", at(days=2, hours=12))]
    report = simulate(rules, events)
    nudges = [d for d in deliveries(report) if d.kind == "nudge"]
    assert [n.send_at for n in nudges] == [at(days=1), at(days=2)]  # third one cancelled by the invite
    assert [d.type for d in report.of_type("cancel_timer")] == ["cancel_timer"]
    assert report.timers_fired == 2


def test_same_user_in_two_time_zones_gets_local_quiet_hours(tmp_path: Path) -> None:
    rules = ruleset_from(tmp_path, NUDGES)
    late = datetime(2026, 3, 2, 22, 30, tzinfo=UTC)
    events = [
        identify(late, user="paris", timezone="Europe/Paris"),
        identify(late, user="la", timezone="America/Los_Angeles"),
        track("Data Source Connected", late, user="paris"),
        track("Data Source Connected", late, user="la"),
    ]
    sends = {d.user_id: d.send_at for d in deliveries(simulate(rules, events)) if d.kind == "celebration"}
    assert sends["paris"] == datetime(2026, 3, 3, 7, 0, tzinfo=UTC)  # 23:30 CET -> 08:00 CET
    assert sends["la"] == late  # 14:30 in Los Angeles: send now


def test_quiet_hours_across_dst_in_simulation(tmp_path: Path) -> None:
    rules = ruleset_from(tmp_path, NUDGES)
    night = datetime(2026, 3, 28, 23, 0, tzinfo=UTC)  # 00:00 CET; clocks jump at 02:00
    events = [identify(night, timezone="Europe/Paris"), track("Data Source Connected", night)]
    [celebration] = [d for d in deliveries(simulate(rules, events, until=night)) if d.kind == "celebration"]
    assert celebration.send_at == datetime(2026, 3, 29, 6, 0, tzinfo=UTC)  # 08:00 CEST


def test_caps_defer_to_the_next_day(tmp_path: Path) -> None:
    text = NUDGES.replace('  quiet_hours: {start: "21:00", end: "08:00"}', "  caps: {overall_per_day: 1}").replace(
        "not_within: 1d", "not_within: 1h"
    )
    report = simulate(ruleset_from(tmp_path, text), [track("Data Source Connected", T0)], until=at(days=5))
    sends = [(d.kind, d.send_at) for d in deliveries(report)]
    assert sends == [
        ("celebration", T0),
        ("nudge", at(days=1, hours=-12)),
        ("nudge", at(days=2, hours=-12)),
        ("nudge", at(days=3, hours=-12)),
    ]


def test_out_of_order_events_are_replayed_in_event_time(tmp_path: Path) -> None:
    rules = ruleset_from(
        tmp_path,
        NUDGES.replace("    when: {event: Teammate Invited}", "    when: {event: Teammate Invited, after: connect}"),
    )
    events = [track("Teammate Invited", at(hours=2)), track("Data Source Connected", at(hours=1))]
    report = simulate(rules, events)
    assert [d.milestone_id for d in report.of_type("milestone_completed")] == ["connect", "invite"]
    assert report.of_type("delivery")[0].kind == "celebration"  # no nudge: invite came in time


def test_duplicates_are_processed_once_and_output_is_deterministic(tmp_path: Path) -> None:
    rules = ruleset_from(tmp_path, NUDGES)
    event = track("Data Source Connected", T0)
    first = simulate(rules, [event, event])
    assert first.duplicates_skipped == 1 and len(first.of_type("milestone_completed")) == 1
    assert simulate(rules, [event, event]).json_lines() == first.json_lines()


def test_until_stops_the_clock(tmp_path: Path) -> None:
    rules = ruleset_from(tmp_path, NUDGES)
    report = simulate(
        rules, [track("Data Source Connected", T0), track("Teammate Invited", at(days=9))], until=at(hours=30)
    )
    assert report.events_processed == 1 and report.timers_fired == 1


def test_run_simulate_writes_json_lines_and_a_summary(tmp_path: Path) -> None:
    out = io.StringIO()
    console = Console(record=True, width=160, color_system=None)
    code = run_simulate(REPO / "playbooks", REPO / "playbooks" / "sample-events.jsonl", None, out, console)
    assert code == 0
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    kinds = {line["type"] for line in lines}
    assert kinds >= {"milestone_completed", "delivery", "arm_timer", "cancel_timer"}
    assert all(
        line["playbook_version"] == load_ruleset(REPO / "playbooks").version
        for line in lines
        if "playbook_version" in line
    )
    text = console.export_text()
    assert "connect_data_source (first value)" in text and "1 duplicates skipped" in text


def test_simulate_out_writes_a_folder_report_reads(tmp_path: Path) -> None:
    """`simulate --out DIR` then `report --from DIR`: what the rules would do, measured like production."""
    out = tmp_path / "simulated"
    console = Console(record=True, width=160, color_system=None)
    assert run_simulate(REPO / "playbooks", REPO / "playbooks" / "sample-events.jsonl", None, out, console) == 0
    events = (out / "events.jsonl").read_text().splitlines()
    outcomes = [json.loads(line) for line in (out / "outcomes.jsonl").read_text().splitlines()]
    assert len(events) == 12 and {"milestone_completed", "delivered"} <= {o["kind"] for o in outcomes}
    assert sorted(p.name for p in (out / "playbooks").iterdir()) == ["admin.yaml", "operator.yaml", "power_user.yaml"]
    with open_folder(out) as connection:
        funnel = connection.execute(
            "SELECT count(*) FROM outcomes WHERE kind = 'milestone_completed' AND milestone_id = 'connect_data_source'"
        ).fetchall()
    assert funnel == [(1,)], "the analytics store reads the simulated outcomes"


def test_simulate_user_prints_that_users_timeline() -> None:
    console = Console(record=True, width=200, color_system=None)
    code = run_simulate(REPO / "playbooks", REPO / "playbooks" / "sample-events.jsonl", None, None, console, user="ada")
    assert code == 0
    lines = [line for line in console.export_text().splitlines() if "2026-" in line]
    texts = [" ".join(line.replace("│", " ").split()) for line in lines]
    completed = next(i for i, t in enumerate(texts) if "completes admin_onboarding / connect_data_source" in t)
    nudged = next(i for i, t in enumerate(texts) if "sends nudge on in_app: “Invite a teammate”" in t)
    assert texts[0].startswith("2026-03-02 09:00:00 event identify") and completed < nudged
    assert any("stalls on invite_teammate unless done by 2026-03-05 09:20 UTC" in t for t in texts)
    assert not any("ben" in t.lower() for t in texts), "only ada's events and decisions"
    assert (
        run_simulate(REPO / "playbooks", REPO / "playbooks" / "sample-events.jsonl", None, None, console, user="x") == 1
    )


def test_run_simulate_reports_bad_events_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "events.jsonl"
    bad.write_text('{"type": "track", "userId": "u"}\nnot json\n')
    console = Console(record=True, width=160, color_system=None)
    assert run_simulate(REPO / "playbooks", bad, None, None, console) == 1
    text = console.export_text()
    assert f"{bad}:1" in text and f"{bad}:2" in text and "Traceback" not in text
    assert run_simulate(tmp_path / "nope", bad, None, None, console) == 1


# -- the simulator runs the worker's pipeline step, not just the engine ----------------------------


def test_de_duplication_is_per_user_as_in_the_worker(tmp_path: Path) -> None:
    rules = ruleset_from(tmp_path, NUDGES)
    ana = track("Data Source Connected", T0, user="ana")
    bo = ana.model_copy(update={"userId": "bo"})  # same messageId, another user: not a duplicate
    report = simulate(rules, [ana, bo, ana])
    assert report.duplicates_skipped == 1
    assert {d.user_id for d in report.of_type("milestone_completed")} == {"ana", "bo"}


def test_sends_held_by_quiet_hours_go_out_at_their_send_time(tmp_path: Path) -> None:
    rules = ruleset_from(tmp_path, NUDGES)
    late = datetime(2026, 3, 2, 22, 30, tzinfo=UTC)
    report = simulate(
        rules, [identify(late, timezone="Europe/Paris"), track("Data Source Connected", late)], until=late
    )
    assert report.sent == [], "08:00 in Paris has not come yet"
    report = simulate(rules, [identify(late, timezone="Europe/Paris"), track("Data Source Connected", late)])
    morning = datetime(2026, 3, 3, 7, 0, tzinfo=UTC)
    assert [(at, r.kind) for at, r in report.sent][:1] == [(morning, "celebration")]
    assert [o.kind for o in report.outcomes].count("delivery_deferred") >= 1


def test_preferences_set_by_identify_traits_hold_back_in_app_prompts(tmp_path: Path) -> None:
    rules = ruleset_from(tmp_path, NUDGES.replace("channel: email", "channel: in_app"))
    events = [identify(T0, nudgeflow_opt_out_channels=["in_app"]), track("Data Source Connected", at(minutes=1))]
    report = simulate(rules, events)
    assert [d.kind for d in report.of_type("delivery")][:1] == ["celebration"], "the engine still decides it"
    assert report.sent == []
    held = [o for o in report.outcomes if o.kind == "delivery_suppressed"]
    assert held and all(o.attributes["reason"] == "preferences" for o in held)
