"""Rules engine: playbooks, milestone ladders, conditions and timing.

The names below are imported on first use (PEP 562), so a module that needs only the contracts
(`nudgeflow.rules.contracts`) does not load the engine and the loader with them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nudgeflow.rules.engine import Engine, EngineResult
    from nudgeflow.rules.loader import load_ruleset
    from nudgeflow.rules.problems import RuleProblem, RulesetError
    from nudgeflow.rules.ruleset import Ruleset

_HOMES = {
    "Engine": "engine",
    "EngineResult": "engine",
    "load_ruleset": "loader",
    "RuleProblem": "problems",
    "RulesetError": "problems",
    "Ruleset": "ruleset",
}

__all__ = ["Engine", "EngineResult", "RuleProblem", "Ruleset", "RulesetError", "load_ruleset"]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
