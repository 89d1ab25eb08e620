"""Rules engine: playbooks, milestone ladders, conditions and timing."""

from nudgeflow.rules.engine import Engine, EngineResult
from nudgeflow.rules.loader import load_ruleset
from nudgeflow.rules.problems import RuleProblem, RulesetError
from nudgeflow.rules.ruleset import Ruleset

__all__ = ["Engine", "EngineResult", "Ruleset", "RulesetError", "RuleProblem", "load_ruleset"]
