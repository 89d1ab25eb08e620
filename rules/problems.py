"""What is wrong with a ruleset, said in plain words with a file and line."""

from __future__ import annotations

import reprlib
from dataclasses import dataclass
from typing import Any

_repr = reprlib.Repr()
_repr.maxlevel, _repr.maxlist, _repr.maxdict, _repr.maxstring, _repr.maxother = 2, 4, 4, 50, 50


def short_repr(value: Any) -> str:
    """Bounded repr for messages: YAML aliases can make a value astronomically large."""
    return _repr.repr(value)


@dataclass(frozen=True, order=True)
class RuleProblem:
    """One problem in one playbook file; `field` is a dotted path like milestones[2].when.within."""

    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class RulesetError(Exception):
    """The ruleset cannot be used; `problems` lists every problem found, not just the first."""

    def __init__(self, problems: list[RuleProblem]):
        self.problems = list(problems)
        super().__init__(str(self))

    def __str__(self) -> str:
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} in the playbooks:"
        return "\n".join([head, *(f"  {p}" for p in self.problems)])


def dotted(path: tuple[str | int, ...]) -> str:
    """('milestones', 2, 'when', 'within') -> 'milestones[2].when.within'."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out
