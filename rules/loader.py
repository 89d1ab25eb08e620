"""Load playbook YAML files into a validated Ruleset, or explain every problem."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from nudgeflow.rules.messages import problems_from
from nudgeflow.rules.problems import RuleProblem, RulesetError
from nudgeflow.rules.ruleset import Ruleset, version_of
from nudgeflow.rules.schema import Playbook
from nudgeflow.rules.semantics import playbook_problems
from nudgeflow.rules.shared_steps import SharedSteps, is_library
from nudgeflow.rules.yamlsource import SourceDoc, read_documents

SUFFIXES = (".yaml", ".yml")


def playbook_files(path: Path) -> list[Path]:
    """A single file, or every .yaml/.yml file under a folder, subfolders included (any letter case;
    hidden files and folders such as .git are skipped), sorted by path."""
    if not path.is_dir():
        return [path]
    return sorted(
        p
        for p in path.rglob("*")
        if p.suffix.lower() in SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(path).parts)
        and p.is_file()
    )


def _entries(doc: SourceDoc) -> list[tuple[tuple[Any, ...], Any]]:
    """A document holds one playbook, or a list of playbooks."""
    if isinstance(doc.data, list):
        return [((i,), item) for i, item in enumerate(doc.data)]
    return [((), doc.data)]


def _parse_doc(
    doc: SourceDoc,
    found: list[tuple[Playbook, SourceDoc, tuple[Any, ...]]],
    problems: list[RuleProblem],
    shared: SharedSteps,
) -> None:
    for prefix, data in _entries(doc):
        if not isinstance(data, dict):
            problems.append(
                RuleProblem(
                    doc.file,
                    doc.line_of(prefix),
                    "",
                    "a playbook must be a set of 'field: value' lines starting with id:",
                )
            )
            continue
        included = shared.resolve(data, doc, prefix)
        if included:
            problems.extend(included)
            continue
        try:
            playbook = Playbook.model_validate(data)
        except ValidationError as exc:
            problems.extend(problems_from(exc, doc, prefix))
            continue
        problems.extend(playbook_problems(playbook, doc, prefix))
        found.append((playbook, doc, prefix))


def _shared_experiments(found: list[tuple[Playbook, SourceDoc, tuple[Any, ...]]]) -> list[RuleProblem]:
    """One experiment id may run in several playbooks, but then with the same split: assignment
    hashes only the experiment and user ids, so a user must land in the same variant in each."""
    first: dict[str, tuple[Playbook, tuple[Any, ...]]] = {}
    problems = []
    for playbook, doc, prefix in found:
        experiment = playbook.experiment
        if experiment is None:
            continue
        split = (experiment.holdout, tuple((v.name, v.weight) for v in experiment.variants))
        if experiment.id not in first:
            first[experiment.id] = (playbook, split)
        elif first[experiment.id][1] != split:
            other = first[experiment.id][0].id
            problems.append(
                RuleProblem(
                    doc.file,
                    doc.line_of((*prefix, "experiment", "id")),
                    "experiment.id",
                    f"experiment '{experiment.id}' also runs in playbook '{other}' with other "
                    "variants, weights or holdout; use the same split or another id",
                )
            )
    return problems


def check_files(
    files: list[Path], display: dict[Path, str] | None = None
) -> tuple[list[tuple[Playbook, SourceDoc, tuple[Any, ...]]], list[RuleProblem], list[bytes]]:
    """Parse and validate; returns playbooks, problems and raw contents (for the version)."""
    found: list[tuple[Playbook, SourceDoc, tuple[Any, ...]]] = []
    problems: list[RuleProblem] = []
    contents: list[bytes] = []
    documents: list[SourceDoc] = []
    for file in files:
        name = (display or {}).get(file, str(file))
        try:
            raw = file.read_bytes()
            text = raw.decode("utf-8")
        except FileNotFoundError:
            problems.append(RuleProblem(name, 0, "", "file not found"))
            continue
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(RuleProblem(name, 0, "", f"cannot read the file ({exc})"))
            continue
        contents.append(raw)
        docs, yaml_problems = read_documents(text, name)
        problems.extend(yaml_problems)
        if not docs and not yaml_problems:
            problems.append(RuleProblem(name, 1, "", "the file is empty: it should describe a playbook"))
        documents += docs
    shared = SharedSteps()
    for doc in documents:  # libraries first: a playbook may include a step from any file
        if is_library(doc.data):
            shared.add_library(doc, problems)
    for doc in documents:
        if not is_library(doc.data):
            _parse_doc(doc, found, problems, shared)
    problems.extend(_shared_experiments(found))
    seen: dict[str, str] = {}
    for playbook, doc, prefix in found:
        where = f"{doc.file}:{doc.line_of((*prefix, 'id'))}"
        if playbook.id in seen:
            message = f"playbook id '{playbook.id}' is already used at {seen[playbook.id]}; give one of them another id"
            problems.append(RuleProblem(doc.file, doc.line_of((*prefix, "id")), "id", message))
        seen.setdefault(playbook.id, where)
    return found, problems, contents


def load_ruleset(path: Path) -> Ruleset:
    """Load a file or folder of playbooks; raises RulesetError listing every problem."""
    path = Path(path)
    if not path.exists():
        raise RulesetError([RuleProblem(str(path), 0, "", "no such file or folder")])
    files = playbook_files(path)
    if not files:
        raise RulesetError([RuleProblem(str(path), 0, "", "no .yaml or .yml playbook files in this folder")])
    found, problems, contents = check_files(files)
    if problems:
        raise RulesetError(sorted(set(problems), key=lambda p: (p.file, p.line, p.field, p.message)))
    names = [f.relative_to(path).as_posix() if path.is_dir() else f.name for f in files]
    return Ruleset(
        playbooks=tuple(p for p, _, _ in found),
        version=version_of(list(zip(names, contents, strict=False))),
        sources=tuple(str(f) for f in files),
    )
