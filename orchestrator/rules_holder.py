"""The ruleset in force, swapped atomically when a valid new one is loaded."""

from __future__ import annotations

import logging
from pathlib import Path

from nudgeflow.orchestrator import metrics
from nudgeflow.rules import Engine, Ruleset, RulesetError, load_ruleset

log = logging.getLogger(__name__)


class RulesHolder:
    """Holds one engine; `reload()` replaces it only if the new files validate."""

    def __init__(self, ruleset: Ruleset, path: Path | None = None) -> None:
        self.path = path
        self._set(ruleset)

    @classmethod
    def from_path(cls, path: Path) -> RulesHolder:
        return cls(load_ruleset(path), path)

    def _set(self, ruleset: Ruleset) -> None:
        self.ruleset = ruleset
        self.engine = Engine(ruleset)
        metrics.RULESET_INFO.clear()
        metrics.RULESET_INFO.labels(ruleset.version).set(len(ruleset.playbooks))

    def reload(self) -> bool:
        """Load the files again. Invalid files are logged and the rules in force keep running."""
        if self.path is None:
            return False
        try:
            ruleset = load_ruleset(self.path)
        except RulesetError as exc:
            log.error("ruleset rejected, keeping version %s:\n%s", self.ruleset.version, exc)
            return False
        if ruleset.version != self.ruleset.version:
            log.info("ruleset %s now in force (%d playbooks)", ruleset.version, len(ruleset.playbooks))
            self._set(ruleset)
            return True
        return False
