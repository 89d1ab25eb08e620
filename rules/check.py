"""`nudgeflow rules check PATH`: validate playbooks and explain problems without tracebacks."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from rich.console import Console
from rich.text import Text

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
    return sorted(set(problems), key=lambda p: (p.file, p.line, p.field, p.message))


def _print_problems(problems: list[RuleProblem], console: Console) -> None:
    for problem in problems:
        line = Text()
        line.append(f"{problem.file}:{problem.line}" if problem.line else problem.file, style="bold")
        if problem.field:
            line.append("  ")
            line.append(problem.field, style="cyan")
        line.append("  ")
        line.append(problem.message)
        console.print(line, soft_wrap=True)
    count = len(problems)
    console.print(Text(f"{count} problem{'s' if count != 1 else ''} found; nothing was loaded.", style="bold red"))


def run_check(path: Path, console: Console) -> int:
    """Print problems in plain words; exit code 0 when the playbooks are usable, else 1."""
    try:
        problems = check_paths([path])
        if problems:
            _print_problems(problems, console)
            return 1
        ruleset = load_ruleset(Path(path))
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
    return 0
