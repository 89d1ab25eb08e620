"""`nudgeflow rules check PATH [--catalog FILE] [--warn-only]`: validate playbooks and explain problems
without tracebacks. Event names are checked against the event catalog when one is given (else for
likely typos among the playbooks' own names); `--warn-only` reports those without failing."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from rich.console import Console
from rich.text import Text

from nudgeflow.rules.event_catalog import event_problems, load_catalog
from nudgeflow.rules.loader import check_files, load_ruleset, playbook_files
from nudgeflow.rules.problems import RuleProblem


def check_paths(paths: Iterable[Path]) -> list[RuleProblem]:
    """Every problem in the given files/folders (duplicate ids are checked across all of them)."""
    files: list[Path] = []
    problems: list[RuleProblem] = []
    for path in map(Path, paths):
        if not path.exists():
            problems.append(RuleProblem(str(path), 0, "", "no such file or folder"))
            continue
        found = playbook_files(path)
        if not found:
            problems.append(RuleProblem(str(path), 0, "", "no .yaml or .yml playbook files in this folder"))
        files += [f for f in found if f not in files]
    problems += check_files(files)[1]
    return _sorted(problems)


def _sorted(problems: list[RuleProblem]) -> list[RuleProblem]:
    return sorted(set(problems), key=lambda p: (p.file, p.line, p.field, p.message))


def check_events(path: Path, catalog_path: Path | None) -> list[RuleProblem]:
    """Event and property names the playbooks read that the catalog doesn't know (or likely typos)."""
    catalog = None
    if catalog_path is not None:
        catalog, problems = load_catalog(catalog_path)
        if problems:
            return problems
    found = check_files(playbook_files(path))[0]
    return _sorted(event_problems(found, catalog))


def _print_problems(problems: list[RuleProblem], console: Console, *, summary: bool = True) -> None:
    for problem in problems:
        line = Text()
        line.append(f"{problem.file}:{problem.line}" if problem.line else problem.file, style="bold")
        if problem.field:
            line.append("  ")
            line.append(problem.field, style="cyan")
        line.append("  ")
        line.append(problem.message)
        console.print(line, soft_wrap=True)
    if summary:
        count = len(problems)
        console.print(Text(f"{count} problem{'s' if count != 1 else ''} found; nothing was loaded.", style="bold red"))


def run_check(path: Path, console: Console, *, catalog: Path | None = None, warn_only: bool = False) -> int:
    """Print problems in plain words; exit code 0 when the playbooks are usable, else 1. Unknown event
    names fail the check too, unless `warn_only`."""
    try:
        problems = check_paths([path])
        if problems:
            _print_problems(problems, console)
            return 1
        ruleset = load_ruleset(Path(path))
        unknown_events = check_events(Path(path), catalog)
    except Exception as exc:  # the CLI promise: never a traceback
        console.print(Text(f"Could not check {path}: {exc}", style="bold red"))
        return 1
    milestones = sum(len(p.milestones) for p in ruleset.playbooks)
    stalls = sum(len(p.stalls) for p in ruleset.playbooks)
    console.print(
        Text(
            f"OK: {len(ruleset.playbooks)} playbooks, {milestones} milestones, {stalls} stall "
            f"rules in {len(ruleset.sources)} files (version {ruleset.version})",
            style="green",
        )
    )
    for playbook in ruleset.playbooks:
        ladder = " → ".join(m.id for m in playbook.milestones)
        console.print(Text(f"  {playbook.id}: {ladder}"), soft_wrap=True)
    if not unknown_events:
        return 0
    _print_problems(unknown_events, console, summary=False)
    count = len(unknown_events)
    verdict = "warnings only (--warn-only)" if warn_only else "the check fails (--warn-only to only warn)"
    console.print(Text(f"{count} event name problem{'s' if count != 1 else ''}: {verdict}", style="bold yellow"))
    return 0 if warn_only else 1
