"""`nudgeflow report`: the dashboard's numbers as terminal tables, CSV files or JSON.

`flat_tables` is the one place a `Report` becomes rows, so the terminal, the CSV
export and the tests all see the same numbers.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from nudgeflow.orchestrator.analytics.results import Lift, Report

Row = dict[str, Any]
COMMENTS_IN_TERMINAL = 10


def _lift_fields(lift: Lift | None) -> Row:
    if lift is None:
        return {"lift": None, "lift_ci_low": None, "lift_ci_high": None, "p_value": None, "significant": None}
    return {
        "lift": lift.absolute,
        "lift_ci_low": lift.absolute_ci_low,
        "lift_ci_high": lift.absolute_ci_high,
        "p_value": lift.p_value,
        "significant": lift.significant,
    }


def flat_tables(report: Report) -> dict[str, list[Row]]:
    """Every metric as a list of flat rows, keyed by table name."""
    tables: dict[str, list[Row]] = {
        name: []
        for name in (
            "ttfv",
            "funnel",
            "variant_funnel",
            "cohorts",
            "retention",
            "value",
            "accounts",
            "feedback",
            "comments",
            "adoption",
            "repeat_usage",
            "nudges",
            "experiments",
        )
    }
    for t in report.ttfv:
        for group, dists in (("all", [t.overall]), ("cohort", t.by_cohort), ("role", t.by_role)):
            for d in dists:
                tables["ttfv"].append(
                    {
                        "playbook": t.playbook_id,
                        "first_value": t.first_value,
                        "group": group,
                        "key": d.key,
                        "users": d.users,
                        "median_hours": d.median_hours,
                        "p90_hours": d.p90_hours,
                    }
                )
    for f in report.funnels:
        for s in f.steps:
            tables["funnel"].append({"playbook": f.playbook_id, "entered": f.entered, **s.model_dump()})
    for f in report.variant_funnels:
        for s in f.steps:
            which = {"playbook": f.playbook_id, "experiment": f.experiment, "variant": f.variant, "entered": f.entered}
            tables["variant_funnel"].append(which | s.model_dump())
    for c in report.cohorts:
        for r in c.rows:
            for cell in r.cells:
                tables["cohorts"].append(
                    {"playbook": c.playbook_id, "week": r.week.isoformat(), "users": r.users, **cell.model_dump()}
                )
    for row in report.retention:
        week = row.week.isoformat() if row.week else "all"
        for rc in row.cells:
            tables["retention"].append({"week": week, "users": row.users, **rc.model_dump()})
    for value_row in report.value:
        week = value_row.week.isoformat() if value_row.week else "all"
        for vc in value_row.cells:
            tables["value"].append({"week": week, "users": value_row.users, **vc.model_dump()})
    tables["accounts"] = [a.model_dump() for a in report.accounts]
    tables["feedback"] = [f.model_dump() for f in report.feedback]
    tables["comments"] = [c.model_dump(mode="json") for c in report.comments]
    tables["adoption"] = [a.model_dump() for a in report.adoption]
    tables["repeat_usage"] = [r.model_dump() for r in report.repeat_usage]
    for n in report.nudges:
        tables["nudges"].append(
            {
                "playbook": n.playbook_id,
                "milestone_id": n.milestone_id,
                "hours": n.hours,
                "nudged_users": n.nudged.users,
                "nudged_rate": n.nudged.rate,
                "holdout_users": n.holdout.users,
                "holdout_rate": n.holdout.rate,
                **_lift_fields(n.lift),
            }
        )
    for e in report.experiments:
        lifts = {v.variant: v.lift for v in e.lifts}
        for v in e.variants:
            tables["experiments"].append(
                {
                    "experiment": e.experiment,
                    "playbook": e.playbook_id,
                    "metric": e.metric_milestone,
                    "variant": v.label,
                    "control": v.label == e.control,
                    "users": v.users,
                    "converted": v.converted,
                    "rate": v.rate,
                    "ci_low": v.ci_low,
                    "ci_high": v.ci_high,
                    **_lift_fields(lifts.get(v.label)),
                }
            )
    return tables


PERCENT = {
    "share",
    "expansion_share",
    "advocacy_share",
    "rate",
    "ci_low",
    "ci_high",
    "conversion_from_previous",
    "conversion_from_start",
    "nudged_rate",
    "holdout_rate",
    "satisfied",
    "lift",
    "lift_ci_low",
    "lift_ci_high",
}


def _cell(name: str, value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and name in PERCENT:
        return f"{value * 100:.1f}%"
    if isinstance(value, float):
        return f"{value:.3g}" if name == "p_value" else f"{value:.1f}"
    return str(value)


def render(report: Report, console: Console) -> None:
    """Rich tables, one per metric; empty metrics are listed as such."""
    console.print(f"[bold]Nudgeflow onboarding report[/bold] — data up to {report.as_of or 'no data'}")
    for name, rows in flat_tables(report).items():
        if not rows:
            console.print(f"[dim]{name}: no data[/dim]")
            continue
        title = name.replace("_", " ")
        if name == "comments" and len(rows) > COMMENTS_IN_TERMINAL:
            title += f" (the {COMMENTS_IN_TERMINAL} newest of {len(rows)}; --format csv lists them all)"
            rows = rows[:COMMENTS_IN_TERMINAL]
        table = Table(*rows[0].keys(), title=title, title_justify="left")
        for row in rows:
            table.add_row(*(_cell(k, v) for k, v in row.items()))
        console.print(table)


def to_csv(rows: list[Row]) -> str:
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return buffer.getvalue()


def export(report: Report, fmt: str, out: Path | None) -> list[Path]:
    """JSON: one file (or stdout). CSV: one `<table>.csv` per metric in the `out` folder (or stdout)."""
    if fmt == "json":
        text = report.model_dump_json(indent=2)
        if out is None:
            print(text)
            return []
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n")
        return [out]
    if fmt != "csv":
        raise ValueError(f"unknown format {fmt!r}: use table, csv or json")
    tables = flat_tables(report)
    if out is None:
        print("\n".join(f"# {name}\n{to_csv(rows)}" for name, rows in tables.items()))
        return []
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, rows in tables.items():
        path = out / f"{name}.csv"
        path.write_text(to_csv(rows))
        written.append(path)
    return written
