"""`nudgeflow simulate`: read rules and events files, print a summary (or one user's timeline), and
write a folder `nudgeflow report --from` reads: the events, the outcomes and every decision."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import median
from typing import TextIO

from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from rich.text import Text

from nudgeflow.orchestrator.analytics.sample import EVENTS_FILE, OUTCOMES_FILE, PLAYBOOKS_DIR
from nudgeflow.orchestrator.pipeline import Call
from nudgeflow.orchestrator.simulate import SimulationReport, simulate
from nudgeflow.rules.contracts.deliveries import DeliveryRequest
from nudgeflow.rules.contracts.events import AliasEvent, TrackEvent, parse_product_event
from nudgeflow.rules.decisions import (
    ArmTimer,
    CancelTimer,
    Decision,
    DeliverySuppressed,
    Exposure,
    MilestoneCompleted,
    MilestoneUnlocked,
)
from nudgeflow.rules.durations import format_duration
from nudgeflow.rules.loader import load_ruleset
from nudgeflow.rules.problems import RuleProblem, RulesetError

DECISIONS_FILE = "decisions.jsonl"


def read_events(path: Path) -> tuple[list[Call], list[RuleProblem]]:
    """JSON lines (one Segment call per line) or one JSON array; every bad line is reported."""
    text = path.read_text(encoding="utf-8")
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            items = [(i + 1, json.dumps(item)) for i, item in enumerate(json.loads(stripped))]
        except (json.JSONDecodeError, TypeError) as exc:
            return [], [RuleProblem(str(path), getattr(exc, "lineno", 1), "", f"not valid JSON ({exc})")]
    else:
        items = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    events: list[Call] = []
    problems: list[RuleProblem] = []
    for number, raw in items:
        try:
            events.append(parse_product_event(raw))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            problems.append(RuleProblem(str(path), number, where, f"not a valid event: {first['msg']}"))
    return events, problems


def _ttv(values: list[timedelta]) -> str:
    if not values:
        return "-"
    return format_duration(timedelta(seconds=round(median(v.total_seconds() for v in values))))


def summary_table(report: SimulationReport) -> Table:
    """Per milestone: how many users completed it, how fast, and what was sent about it."""
    table = Table(title=f"Simulation (rules version {report.ruleset.version})")
    for column in (
        "playbook",
        "milestone",
        "users done",
        "median time to done",
        "celebrations",
        "nudges",
        "suppressed",
    ):
        table.add_column(column, justify="left" if column in ("playbook", "milestone") else "right")
    sent: dict[tuple[str, str, str], int] = {}
    for _, d in report.decisions:
        if isinstance(d, DeliveryRequest | DeliverySuppressed):
            key = (d.playbook_id, d.milestone_id, d.kind if isinstance(d, DeliveryRequest) else "suppressed")
            sent[key] = sent.get(key, 0) + 1
    for playbook in report.ruleset.playbooks:
        entered = [p.playbooks[playbook.id] for p in report.progress.values() if playbook.id in p.playbooks]
        for m in playbook.milestones:
            completed = [(pp.milestones[m.id].completed_at, pp.entered_at) for pp in entered if m.id in pp.milestones]
            times = [done - entered_at for done, entered_at in completed if done is not None]
            label = m.id + (" (first value)" if m.id == playbook.first_value else "")
            table.add_row(
                playbook.id,
                label,
                f"{len(times)}/{len(entered)}",
                _ttv(times),
                *(str(sent.get((playbook.id, m.id, k), 0)) for k in ("celebration", "nudge", "suppressed")),
            )
    return table


def exposure_lines(report: SimulationReport) -> list[str]:
    """'experiment power-user-copy: control 3 users, holdout 1 user, ...' per experiment."""
    counts: dict[str, dict[str, int]] = {}
    for _, d in report.decisions:
        if isinstance(d, Exposure):
            variants = counts.setdefault(d.experiment, {})
            variants[d.variant] = variants.get(d.variant, 0) + 1
    return [
        f"experiment {name}: " + ", ".join(f"{v} {n} user{'s' if n != 1 else ''}" for v, n in sorted(variants.items()))
        for name, variants in sorted(counts.items())
    ]


def _describe(decision: Decision) -> str:
    """One line of a user's timeline, in the words a CS person uses."""
    if isinstance(decision, DeliveryRequest):
        to = "" if decision.to_the_user else f" to {decision.data.get('slack_channel') or decision.data.get('to')}"
        return f"sends {decision.kind} on {decision.channel}{to}: “{decision.title}”"
    if isinstance(decision, DeliverySuppressed):
        detail = f" ({decision.detail})" if decision.detail else ""
        return f"does not send {decision.kind} on {decision.channel}: {decision.reason}{detail}"
    if isinstance(decision, MilestoneCompleted):
        value = ", first value" if decision.first_value else ""
        return (
            f"completes {decision.playbook_id} / {decision.milestone_id} ({decision.done} of {decision.total}{value})"
        )
    if isinstance(decision, MilestoneUnlocked):
        return f"unlocks {decision.playbook_id} / {decision.milestone_id}"
    if isinstance(decision, ArmTimer):
        return (
            f"stalls on {decision.milestone_id} unless done by {decision.due_at:%Y-%m-%d %H:%M %Z} "
            f"(nudge {decision.nudge_step + 1})"
        )
    if isinstance(decision, CancelTimer):
        return "stall timer cancelled"
    if isinstance(decision, Exposure):
        return f"enters experiment {decision.experiment} as {decision.variant}"
    return decision.type


def _event_words(event: Call) -> str:
    if isinstance(event, TrackEvent):
        return event.event
    if isinstance(event, AliasEvent):
        return f"alias {event.previousId} → {event.userId}"
    return "identify " + json.dumps(event.traits)


def timeline_table(report: SimulationReport, events: Sequence[Call], user_id: str) -> Table:
    """Everything that happened to one user, in virtual time: their events and every decision about them."""
    rows: list[tuple[datetime, int, str, str]] = []
    for event in events:
        if event.userId == user_id or (isinstance(event, AliasEvent) and event.previousId == user_id):
            rows.append((event.timestamp, 0, "event", _event_words(event)))
    for at, decision in report.decisions:
        if getattr(decision, "user_id", None) == user_id:
            rows.append((at, 1, decision.type.replace("_", " "), _describe(decision)))
    table = Table(title=f"Timeline of {user_id}")
    for column in ("when (UTC)", "what", ""):
        table.add_column(column)
    for at, _, kind, text in sorted(rows, key=lambda row: (row[0], row[1])):
        table.add_row(f"{at.astimezone(UTC):%Y-%m-%d %H:%M:%S}", kind, text)
    return table


def write_folder(out: Path, rules_path: Path, events: Sequence[Call], report: SimulationReport) -> None:
    """What `nudgeflow report --from out` reads (events, outcomes, the playbooks), plus every decision."""
    out.mkdir(parents=True, exist_ok=True)
    with (out / EVENTS_FILE).open("w", encoding="utf-8") as file:
        file.writelines(e.model_dump_json(by_alias=True) + "\n" for e in events)
    with (out / OUTCOMES_FILE).open("w", encoding="utf-8") as file:
        file.writelines(o.model_dump_json() + "\n" for o in report.outcomes)
    (out / DECISIONS_FILE).write_text("".join(line + "\n" for line in report.json_lines()), encoding="utf-8")
    rules = out / PLAYBOOKS_DIR
    rules.mkdir(exist_ok=True)
    sources = (
        [rules_path]
        if rules_path.is_file()
        else sorted(p for p in rules_path.rglob("*") if p.suffix.lower() in (".yaml", ".yml"))
    )
    for source in sources:
        shutil.copyfile(source, rules / source.name)


def run_simulate(
    rules_path: Path,
    events_path: Path,
    until: datetime | None,
    out: Path | TextIO | None,
    console: Console,
    *,
    user: str | None = None,
) -> int:
    """Exit 0 after a simulation; 1 (with plain-words problems, no traceback) if inputs are bad."""
    try:
        ruleset = load_ruleset(Path(rules_path))
        events, problems = read_events(Path(events_path))
    except RulesetError as exc:
        problems = exc.problems
    except (OSError, UnicodeDecodeError) as exc:
        problems = [RuleProblem(str(events_path), 0, "", f"cannot read the file ({exc})")]
    if problems:
        for problem in problems:
            console.print(Text(str(problem)), soft_wrap=True)
        console.print(Text(f"{len(problems)} problem(s); nothing was simulated.", style="bold red"))
        return 1
    try:
        if until is not None and until.tzinfo is None:
            raise ValueError("--until needs a time zone offset, e.g. 2026-03-01T00:00:00Z")
        report = simulate(ruleset, events, until)
        if isinstance(out, Path):
            write_folder(out, Path(rules_path), events, report)
        elif out is not None:
            out.write("".join(line + "\n" for line in report.json_lines()))
    except Exception as exc:  # the CLI promise: never a traceback
        console.print(Text(f"Simulation failed: {exc}", style="bold red"))
        return 1
    if user is not None:
        if not any(e.userId == user for e in events):
            console.print(Text(f"no events of user '{user}' in {events_path}", style="bold red"))
            return 1
        console.print(timeline_table(report, events, user))
        return 0
    console.print(summary_table(report))
    if isinstance(out, Path):
        console.print(Text(f"wrote {out} (nudgeflow report --from {out})"))
    for line in exposure_lines(report):
        console.print(Text(line), soft_wrap=True)
    console.print(
        Text(
            f"{report.events_processed} events, {report.duplicates_skipped} duplicates skipped, "
            f"{report.timers_fired} timers fired, {len(report.decisions)} decisions."
        )
    )
    return 0
