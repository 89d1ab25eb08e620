"""Experiments in playbooks: deterministic assignment, exposure, variant overrides, holdout, loader errors."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from nudgeflow.orchestrator.simulate import simulate
from nudgeflow.rules import Engine, RulesetError, load_ruleset
from nudgeflow.rules.decisions import TimerDue
from nudgeflow.rules.experiments import assign, bucket
from nudgeflow.rules.schema import Experiment
from tests.support.rules import T0, Run, at, identify, ruleset_from, track

REPO = Path(__file__).resolve().parents[3]

PLAYBOOK = """
id: pu
name: Power users
audience:
  role: power_user
milestones:
  - id: first_report
    title: First report
    when: {event: Report Created}
    celebrate:
      - channel: in_app
        title: "Report saved"
        body: "Next: {{ progress.next }}"
  - id: first_automation
    title: First automation
    when: {event: Automation Created}
    celebrate:
      - channel: in_app
        title: "Automation live"
        body: "Nice"
  - id: share_report
    title: Share a report
    when: {event: Report Shared}
stalls:
  - milestone: first_automation
    of: first_report
    not_within: 5d
    nudges:
      - channel: in_app
        title: "Automate it"
        body: "Two clicks."
experiment:
  id: copy-test
  holdout: %(holdout)s
  variants:
    - name: control
      weight: 1
    - name: social_proof
      weight: 1
      milestones:
        first_report:
          celebrate:
            - title: "Report saved — most teams automate next"
          unlocks: [share_report]
      stalls:
        - milestone: first_automation
          not_within: 2d
          nudges:
            - title: "Teams like yours automate"
"""


def rules(tmp_path: Path, holdout: float = 0.2):
    return ruleset_from(tmp_path, PLAYBOOK % {"holdout": holdout})


def user_in(ruleset, variant: str) -> str:
    experiment = ruleset.playbooks[0].experiment
    return next(f"user-{i}" for i in range(10_000) if assign(experiment, f"user-{i}") == variant)


def fire_all(run: Run) -> list:
    """Fire every pending timer in due order (a tiny simulator for one user)."""
    out = []
    while run.progress.timers:
        timer_id, pending = min(run.progress.timers.items(), key=lambda kv: kv[1].due_at)
        timer = TimerDue(
            timer_id=timer_id,
            user_id=run.progress.user_id,
            due_at=pending.due_at,
            playbook_id=pending.playbook_id,
            milestone_id=pending.milestone_id,
            nudge_step=pending.step,
            stall_key=pending.stall_key,
        )
        result = run.engine.on_timer(run.progress, timer, pending.due_at)
        run.progress = result.progress
        run.decisions += result.decisions
        out += result.decisions
    return out


# -- assignment --------------------------------------------------------------------------------


def _experiment(holdout: float = 0.0, **weights: float) -> Experiment:
    return Experiment.model_validate(
        {"id": "exp", "holdout": holdout, "variants": [{"name": n, "weight": w} for n, w in weights.items()]}
    )


def test_assignment_is_stable_across_calls_and_processes() -> None:
    experiment = _experiment(0.1, control=1, b=3)
    ids = [f"u{i}" for i in range(200)]
    here = [assign(experiment, i) for i in ids]
    assert here == [assign(experiment, i) for i in ids]
    code = (
        "import json, sys; from nudgeflow.rules.experiments import assign; "
        "from nudgeflow.rules.schema import Experiment; "
        "e = Experiment.model_validate({'id': 'exp', 'holdout': 0.1, 'variants': "
        "[{'name': 'control', 'weight': 1}, {'name': 'b', 'weight': 3}]}); "
        "print(json.dumps([assign(e, f'u{i}') for i in range(200)]))"
    )
    env_hash = {"PYTHONHASHSEED": "12345"}  # a different str hash seed must not matter
    other = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        env={**__import__("os").environ, **env_hash},
    )
    assert json.loads(other.stdout) == here


def test_bucket_depends_on_experiment_and_user() -> None:
    assert 0 <= bucket("exp", "u1") < 1
    assert bucket("exp", "u1") == bucket("exp", "u1")
    assert bucket("exp", "u1") != bucket("other", "u1")
    assert bucket("exp", "u1") != bucket("exp", "u2")


def test_distribution_follows_weights_and_holdout() -> None:
    experiment = _experiment(0.1, control=1, b=3)
    counts = Counter(assign(experiment, f"user-{i}") for i in range(10_000))
    assert set(counts) == {"holdout", "control", "b"}
    assert counts["holdout"] / 10_000 == pytest.approx(0.1, abs=0.015)
    assert counts["control"] / 10_000 == pytest.approx(0.9 * 0.25, abs=0.02)
    assert counts["b"] / 10_000 == pytest.approx(0.9 * 0.75, abs=0.02)


def test_no_holdout_means_nobody_held_out() -> None:
    experiment = _experiment(0.0, control=1, b=1)
    counts = Counter(assign(experiment, f"user-{i}") for i in range(10_000))
    assert "holdout" not in counts
    assert counts["control"] / 10_000 == pytest.approx(0.5, abs=0.02)


# -- exposure ----------------------------------------------------------------------------------


def test_exposure_emitted_once_on_entry(tmp_path: Path) -> None:
    ruleset = rules(tmp_path)
    user = user_in(ruleset, "social_proof")
    run = Run(ruleset, user)
    run.send(identify(user=user, role="power_user"))
    run.send(identify(at(hours=1), user=user, role="power_user", plan="pro"))
    run.send(track("Report Created", at(hours=2), user=user))
    exposures = run.of_type("exposure")
    assert len(exposures) == 1
    exposure = exposures[0]
    assert (exposure.user_id, exposure.playbook_id, exposure.experiment, exposure.variant) == (
        user,
        "pu",
        "copy-test",
        "social_proof",
    )
    assert exposure.at == T0 and exposure.playbook_version == ruleset.version
    assert run.progress.exposures == {"copy-test": "social_proof"}
    assert run.progress.playbooks["pu"].variant == "social_proof"


def test_no_exposure_outside_the_audience(tmp_path: Path) -> None:
    run = Run(rules(tmp_path), "someone")
    run.send(identify(user="someone", role="admin"))
    run.send(track("Report Created", at(hours=1), user="someone"))
    assert run.of_type("exposure") == []


def test_users_who_entered_before_the_experiment_keep_the_playbook_as_written(tmp_path: Path) -> None:
    before = ruleset_from(tmp_path, (PLAYBOOK % {"holdout": 0}).split("experiment:")[0], name="old.yaml")
    ruleset = rules(tmp_path)
    user = user_in(ruleset, "social_proof")
    run = Run(before, user)
    run.send(identify(user=user, role="power_user"))
    run.engine = Engine(ruleset)  # rules reloaded with the experiment
    run.send(track("Report Created", at(hours=1), user=user))
    assert run.of_type("exposure") == []
    assert [d.title for d in run.of_type("delivery")] == ["Report saved"]


# -- variants ----------------------------------------------------------------------------------


def test_variant_templates_timing_and_unlocks_are_used(tmp_path: Path) -> None:
    ruleset = rules(tmp_path)
    user = user_in(ruleset, "social_proof")
    run = Run(ruleset, user)
    run.send(identify(user=user, role="power_user"))
    run.send(track("Report Created", at(hours=1), user=user))
    celebration = run.of_type("delivery")[0]
    assert celebration.title == "Report saved — most teams automate next"
    assert celebration.body == "Next: First automation"  # body not overridden: the playbook's text
    assert [d.milestone_id for d in run.of_type("milestone_unlocked")] == ["share_report"]
    arm = run.of_type("arm_timer")[0]
    assert arm.due_at == at(hours=1) + timedelta(days=2)
    nudges = fire_all(run)
    assert [(d.type, d.kind, d.title, d.body) for d in nudges] == [
        ("delivery", "nudge", "Teams like yours automate", "Two clicks.")
    ]


def test_control_sees_the_playbook_as_written(tmp_path: Path) -> None:
    ruleset = rules(tmp_path)
    user = user_in(ruleset, "control")
    run = Run(ruleset, user)
    run.send(identify(user=user, role="power_user"))
    run.send(track("Report Created", at(hours=1), user=user))
    assert run.of_type("delivery")[0].title == "Report saved"
    assert [d.milestone_id for d in run.of_type("milestone_unlocked")] == ["first_automation"]
    assert run.of_type("arm_timer")[0].due_at == at(hours=1) + timedelta(days=5)
    assert [d.title for d in fire_all(run)] == ["Automate it"]
    assert run.of_type("exposure")[0].variant == "control"


def test_variant_order_changes_the_ladder(tmp_path: Path) -> None:
    text = (PLAYBOOK % {"holdout": 0}).replace(
        "      milestones:\n        first_report:",
        "      order: [first_report, share_report, first_automation]\n      milestones:\n        first_report:",
    )
    text = text.replace("          unlocks: [share_report]\n", "")
    ruleset = ruleset_from(tmp_path, text)
    user = user_in(ruleset, "social_proof")
    run = Run(ruleset, user)
    run.send(identify(user=user, role="power_user"))
    run.send(track("Report Created", at(hours=1), user=user))
    assert [d.milestone_id for d in run.of_type("milestone_unlocked")] == ["share_report"]
    assert run.of_type("delivery")[0].body == "Next: Share a report"


# -- holdout -----------------------------------------------------------------------------------


def test_holdout_suppresses_nudges_but_not_celebrations(tmp_path: Path) -> None:
    ruleset = rules(tmp_path, holdout=0.3)
    user = user_in(ruleset, "holdout")
    run = Run(ruleset, user)
    run.send(identify(user=user, role="power_user"))
    run.send(track("Report Created", at(hours=1), user=user))
    assert run.of_type("exposure")[0].variant == "holdout"
    assert [d.title for d in run.of_type("delivery")] == ["Report saved"]  # celebrated, as written
    assert run.of_type("arm_timer")[0].due_at == at(hours=1) + timedelta(days=5)
    fired = fire_all(run)
    assert [d.type for d in fired] == ["delivery_suppressed"]
    suppressed = fired[0]
    assert (suppressed.reason, suppressed.kind, suppressed.milestone_id, suppressed.channel) == (
        "holdout",
        "nudge",
        "first_automation",
        "in_app",
    )
    assert "copy-test" in suppressed.detail
    assert run.of_type("delivery")[-1].kind == "celebration"
    run.send(track("Automation Created", at(days=7), user=user))
    assert [d.title for d in run.of_type("delivery")] == ["Report saved", "Automation live"]


def test_holdout_nudge_not_suppressed_when_milestone_done(tmp_path: Path) -> None:
    ruleset = rules(tmp_path, holdout=0.3)
    user = user_in(ruleset, "holdout")
    run = Run(ruleset, user)
    run.send(identify(user=user, role="power_user"))
    run.send(track("Report Created", at(hours=1), user=user))
    run.send(track("Automation Created", at(hours=2), user=user))
    assert fire_all(run) == []
    assert run.of_type("delivery_suppressed") == []


# -- simulator and worker outcomes -------------------------------------------------------------


def test_simulator_output_contains_exposures(tmp_path: Path) -> None:
    ruleset = rules(tmp_path, holdout=0.2)
    users = [f"sim-{i}" for i in range(40)]
    events = [identify(T0, user=u, role="power_user") for u in users]
    events += [track("Report Created", at(hours=1), user=u) for u in users]
    report = simulate(ruleset, events)
    lines = [json.loads(line) for line in report.json_lines()]
    exposures = [line for line in lines if line["type"] == "exposure"]
    experiment = ruleset.playbooks[0].experiment
    assert {e["user_id"]: e["variant"] for e in exposures} == {u: assign(experiment, u) for u in users}
    held = {u for u in users if assign(experiment, u) == "holdout"}
    suppressed = {line["user_id"] for line in lines if line["type"] == "delivery_suppressed"}
    nudged = {line["user_id"] for line in lines if line["type"] == "delivery" and line["kind"] == "nudge"}
    assert suppressed == held and nudged == set(users) - held
    assert simulate(ruleset, events).json_lines() == report.json_lines()


def test_worker_maps_exposure_and_holdout_to_outcomes(tmp_path: Path) -> None:
    from nudgeflow.orchestrator.pipeline import FixedEngine, PipelineStep
    from nudgeflow.rules.contracts.timers import TimerCommand
    from nudgeflow.rules.contracts.users import UserRecord

    ruleset = rules(tmp_path, holdout=0.3)
    step = PipelineStep(FixedEngine(Engine(ruleset)), dedupe_window=10)
    user = user_in(ruleset, "holdout")
    record = UserRecord.new(user)
    outcomes = []
    for event in (identify(user=user, role="power_user"), track("Report Created", at(hours=1), user=user)):
        processed = step.on_event(record, event, event.timestamp)
        record, outcomes = processed.record, outcomes + processed.outcomes
    ((timer_id, pending),) = record.progress.timers.items()
    command = TimerCommand(user_id=user, timer_id=timer_id, due_at=pending.due_at)
    processed = step.on_timer(record, command, pending.due_at)
    assert processed.status == "fired"
    outcomes += processed.outcomes
    exposure = next(o for o in outcomes if o.kind == "exposure")
    assert exposure.outcome_id.endswith(f"{user}:copy-test")
    assert exposure.playbook_id == "pu" and exposure.occurred_at == T0
    assert exposure.attributes == {"experiment": "copy-test", "variant": "holdout"}
    held = next(o for o in outcomes if o.kind == "delivery_suppressed")
    assert held.attributes["reason"] == "holdout" and held.attributes["kind"] == "nudge"
    assert held.milestone_id == "first_automation"


# -- loader ------------------------------------------------------------------------------------


def problems(tmp_path: Path, experiment: str) -> list[str]:
    text = (PLAYBOOK % {"holdout": 0}).split("experiment:")[0] + experiment
    with pytest.raises(RulesetError) as info:
        ruleset_from(tmp_path, text)
    return [str(p).removeprefix(str(tmp_path) + "/") for p in info.value.problems]


EXPERIMENT_LINE = PLAYBOOK.split("experiment:")[0].count("\n") + 1  # line of `experiment:`


def line(n: int) -> str:
    return f"pb.yaml:{EXPERIMENT_LINE + n}:"


def test_loader_rejects_bad_weights_holdout_and_names(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """experiment:
  id: exp
  holdout: 0.7
  variants:
    - name: control
      weight: 0
    - name: b
      weight: -1
""",
    )
    assert f"{line(2)} experiment.holdout: 0.7 is too large: it must be at most 0.5" in found
    assert f"{line(5)} experiment.variants[0].weight: 0 is too small: it must be more than 0" in found
    assert f"{line(7)} experiment.variants[1].weight: -1 is too small: it must be more than 0" in found
    found = problems(
        tmp_path,
        """experiment:
  id: exp
  variants:
    - name: control
    - name: control
    - name: holdout
""",
    )
    assert any(
        p.startswith(f"{line(4)} experiment.variants[1].name: variant name 'control' is used twice") for p in found
    )
    assert any(p.startswith(f"{line(5)} experiment.variants[2].name: 'holdout' is reserved") for p in found)
    assert problems(tmp_path, "experiment:\n  id: exp\n  variants: []\n") == [
        f"{line(2)} experiment.variants: must not be empty"
    ]


def test_loader_rejects_overrides_of_unknown_things(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """experiment:
  id: exp
  variants:
    - name: b
      milestones:
        first_reprot:
          celebrate:
            - title: x
        share_report:
          celebrate:
            - title: x
        first_automation:
          unlocks: [nope]
      stalls:
        - milestone: share_report
          not_within: 1d
        - milestone: first_automation
          nudges:
            - title: a
            - title: b
""",
    )
    text = "\n".join(found)
    assert (
        f"{line(5)} experiment.variants[0].milestones.first_reprot: unknown milestone 'first_reprot' "
        "(did you mean 'first_report'?)"
    ) in found
    assert (
        f"{line(10)} experiment.variants[0].milestones.share_report.celebrate[0]: milestone 'share_report' "
        "has 0 celebrate messages" in text
    )
    assert f"{line(12)} experiment.variants[0].milestones.first_automation.unlocks[0]: unknown milestone 'nope'" in text
    assert f"{line(14)} experiment.variants[0].stalls[0]: no stall rule for 'share_report'" in text
    assert (
        f"{line(19)} experiment.variants[0].stalls[1].nudges[1]: the stall rule for 'first_automation' "
        "has 1 nudge(s)" in text
    )


def test_loader_rejects_bad_fields_templates_order_and_loops(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """experiment:
  id: exp
  variants:
    - name: b
      wieght: 2
      order: [first_report, first_automation]
      milestones:
        first_report:
          celebrate:
            - body: "{{ usr.name }}"
          unlocks: [first_report]
      stalls:
        - milestone: first_automation
          not_within: 2 days
""",
    )
    text = "\n".join(found)
    assert f"{line(5)} experiment.variants[0].order: order must list every milestone" not in text  # pydantic first
    assert f"{line(4)} experiment.variants[0].wieght: unknown field 'wieght' (did you mean 'weight'?)" in found
    assert f"{line(13)} experiment.variants[0].stalls[0].not_within: '2 days' is not a duration" in text


def test_loader_rejects_template_order_and_loop_problems(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """experiment:
  id: exp
  variants:
    - name: b
      order: [first_report, first_automation, first_automation]
      milestones:
        first_report:
          celebrate:
            - body: "{{ usr.name }}"
          unlocks: [first_automation]
        first_automation:
          unlocks: [first_report]
""",
    )
    text = "\n".join(found)
    assert (
        f"{line(4)} experiment.variants[0].order: order must list every milestone of the playbook once "
        "(missing share_report; listed twice: first_automation)" in text
    )
    assert f"{line(8)} experiment.variants[0].milestones.first_report.celebrate[0].body: unknown name 'usr'" in text
    assert (
        f"{line(3)} experiment.variants[0]: with this variant's order/unlocks, milestones wait on each other "
        "in a loop" in text
    )


def test_loader_requires_of_when_a_milestone_has_several_stalls(tmp_path: Path) -> None:
    text = (
        (PLAYBOOK % {"holdout": 0})
        .replace(
            "experiment:",
            """  - milestone: first_automation
    of: signup
    not_within: 7d
    nudges:
      - channel: email
        title: "Automate"
        body: "Please"
experiment:""",
        )
        .replace(
            """      stalls:
        - milestone: first_automation
          not_within: 2d""",
            """      stalls:
        - milestone: first_automation
          not_within: 2d
        - milestone: first_automation
          of: signup
          not_within: 3d""",
        )
    )
    with pytest.raises(RulesetError) as info:
        ruleset_from(tmp_path, text)
    found = [str(p) for p in info.value.problems]
    assert len(found) == 1 and "'first_automation' has 2 stall rules: add `of:` to say which one" in found[0]


def test_example_playbooks_run_an_experiment() -> None:
    ruleset = load_ruleset(REPO / "playbooks")
    power = ruleset.playbook("power_user_onboarding")
    assert power is not None and power.experiment is not None
    assert [v.name for v in power.experiment.variants] == ["control", "social_proof"]
    assert 0 < power.experiment.holdout <= 0.5


def test_an_experiment_shared_by_playbooks_needs_the_same_split(tmp_path: Path) -> None:
    ruleset_from(tmp_path, PLAYBOOK % {"holdout": 0.1}, name="a.yaml")
    other = (PLAYBOOK % {"holdout": 0.2}).replace("id: pu\n", "id: pu2\n", 1)
    (tmp_path / "b.yaml").write_text(textwrap.dedent(other))
    with pytest.raises(RulesetError) as info:
        load_ruleset(tmp_path)
    (problem,) = info.value.problems
    assert problem.file.endswith("b.yaml") and problem.field == "experiment.id"
    assert "also runs in playbook 'pu'" in problem.message
    (tmp_path / "b.yaml").write_text(textwrap.dedent(other.replace("holdout: 0.2", "holdout: 0.1")))
    assert len(load_ruleset(tmp_path).playbooks) == 2


def test_readme_experiment_example_is_valid(tmp_path: Path) -> None:
    readme = (REPO / "playbooks" / "README.md").read_text()
    section = readme.split("## Experiments", 1)[1]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    playbook = (REPO / "playbooks" / "power_user.yaml").read_text().split("\nexperiment:")[0]
    ruleset = ruleset_from(tmp_path, playbook + "\n" + example)
    experiment = ruleset.playbooks[0].experiment
    assert experiment is not None and [v.name for v in experiment.variants] == [
        "control",
        "social_proof",
        "short_ladder",
    ]


def test_simulate_cli_summarises_exposures(tmp_path: Path) -> None:
    from rich.console import Console

    from nudgeflow.orchestrator.simulate_cli import run_simulate

    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "pb.yaml").write_text(textwrap.dedent(PLAYBOOK % {"holdout": 0}))
    ruleset = load_ruleset(tmp_path / "rules")
    users = [user_in(ruleset, "control"), user_in(ruleset, "social_proof")]
    events = tmp_path / "events.jsonl"
    events.write_text("".join(identify(user=u, role="power_user").model_dump_json(by_alias=True) + "\n" for u in users))
    console = Console(record=True, width=200)
    out = tmp_path / "simulated"
    assert run_simulate(tmp_path / "rules", events, None, out, console) == 0
    assert "experiment copy-test: control 1 user, social_proof 1 user" in console.export_text()
    decisions = (out / "decisions.jsonl").read_text().splitlines()
    assert sum(json.loads(line)["type"] == "exposure" for line in decisions) == 2


def test_an_experiment_metric_names_a_milestone_of_the_playbook_or_a_retention_day(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """experiment:
  id: exp
  metric: {milestone: first_automaton, within: 7d}
  variants:
    - name: control
""",
    )
    assert len(found) == 1 and found[0].startswith(f"{line(2)} experiment.metric.milestone: unknown milestone")
    assert "did you mean 'first_automation'" in found[0]
    found = problems(
        tmp_path,
        """experiment:
  id: exp
  metric: {milestone: first_report, active_on_day: 7}
  variants:
    - name: control
""",
    )
    assert len(found) == 1 and "either a milestone (with `within`) or `active_on_day`" in found[0]
    text = (PLAYBOOK % {"holdout": 0}).replace(
        "experiment:\n  id: copy-test", "experiment:\n  id: copy-test\n  metric: {active_on_day: 7}"
    )
    [playbook] = ruleset_from(tmp_path, text).playbooks
    assert playbook.experiment is not None and playbook.experiment.metric.active_on_day == 7
