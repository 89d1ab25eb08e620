"""Shared steps: milestones written once and included by many playbooks.

A library is a YAML document with `shared_steps:`, a list of milestones, anywhere under the rules
folder. A playbook's milestone `- include: connect_data_source` takes that step; any other field
given beside `include` replaces the step's own (title, when, celebrate, cta, unlocks...). Steps are
resolved on the YAML data before validation, so a mistake in an included step is reported at the
`include` line of the playbook that uses it, and a step's id is unique across libraries.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from nudgeflow.rules.problems import RuleProblem, dotted
from nudgeflow.rules.yamlsource import SourceDoc

LIBRARY_KEY = "shared_steps"
INCLUDE_KEY = "include"


@dataclass
class SharedSteps:
    """Every shared step by id, with where it was written."""

    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    where: dict[str, str] = field(default_factory=dict)

    def add_library(self, doc: SourceDoc, problems: list[RuleProblem]) -> None:
        entries = doc.data.get(LIBRARY_KEY)
        if not isinstance(entries, list):
            line = doc.line_of((LIBRARY_KEY,))
            problems.append(RuleProblem(doc.file, line, LIBRARY_KEY, "shared_steps must be a list of milestones"))
            return
        for index, step in enumerate(entries):
            path = (LIBRARY_KEY, index)
            step_id = step.get("id") if isinstance(step, dict) else None
            if not isinstance(step_id, str) or not step_id:
                message = "a shared step is a milestone: give it an id"
                problems.append(RuleProblem(doc.file, doc.line_of(path), dotted(path), message))
                continue
            at = f"{doc.file}:{doc.line_of((*path, 'id'))}"
            if step_id in self.steps:
                message = f"shared step '{step_id}' is already defined at {self.where[step_id]}; rename one of them"
                problems.append(RuleProblem(doc.file, doc.line_of((*path, "id")), dotted((*path, "id")), message))
                continue
            self.steps[step_id], self.where[step_id] = step, at

    def resolve(self, data: dict[str, Any], doc: SourceDoc, prefix: tuple[Any, ...]) -> list[RuleProblem]:
        """Replace each `include` milestone of one playbook's data by its step (in place)."""
        milestones = data.get("milestones")
        if not isinstance(milestones, list):
            return []
        problems = []
        for index, entry in enumerate(milestones):
            if not isinstance(entry, dict) or INCLUDE_KEY not in entry:
                continue
            path = (*prefix, "milestones", index, INCLUDE_KEY)
            name = entry[INCLUDE_KEY]
            step = self.steps.get(name) if isinstance(name, str) else None
            if step is None:
                problems.append(RuleProblem(doc.file, doc.line_of(path), dotted(path), self._unknown(name)))
                continue
            overrides = {k: v for k, v in entry.items() if k != INCLUDE_KEY}
            milestones[index] = {**step, **overrides}
        return problems

    def _unknown(self, name: Any) -> str:
        known = sorted(self.steps)
        close = difflib.get_close_matches(str(name), known, n=1, cutoff=0.6)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        listing = f"; shared steps: {', '.join(known)}" if known else "; no file defines shared_steps"
        return f"no shared step '{name}'{hint}{listing}"


def is_library(data: Any) -> bool:
    return isinstance(data, dict) and LIBRARY_KEY in data and "id" not in data
