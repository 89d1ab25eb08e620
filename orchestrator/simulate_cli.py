"""`nudgeflow simulate`: read rules and events files, print a summary, write JSON lines."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from statistics import median
from typing import TextIO

from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from rich.text import Text

from nudgeflow.orchestrator.simulate import SimulationReport, simulate
from nudgeflow.rules.contracts.deliveries import DeliveryRequest
from nudgeflow.rules.contracts.events import IdentifyEvent, TrackEvent, parse_product_event
from nudgeflow.rules.decisions import DeliverySuppressed, Exposure
from nudgeflow.rules.durations import format_duration
from nudgeflow.rules.loader import load_ruleset
from nudgeflow.rules.problems import RuleProblem, RulesetError


def read_events(path: Path) -> tuple[list[TrackEvent | IdentifyEvent], list[RuleProblem]]:
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
    events, problems = [], []
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


def run_simulate(
    rules_path: Path, events_path: Path, until: datetime | None, out: Path | TextIO | None, console: Console
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
        lines = "".join(line + "\n" for line in report.json_lines())
        if isinstance(out, Path):
            out.write_text(lines, encoding="utf-8")
        elif out is not None:
            out.write(lines)
    except Exception as exc:  # the CLI promise: never a traceback
        console.print(Text(f"Simulation failed: {exc}", style="bold red"))
        return 1
    console.print(summary_table(report))
    for line in exposure_lines(report):
        console.print(Text(line), soft_wrap=True)
    console.print(
        Text(
            f"{report.events_processed} events, {report.duplicates_skipped} duplicates skipped, "
            f"{report.timers_fired} timers fired, {len(report.decisions)} decisions."
        )
    )
    return 0
