"""Rules engine: playbooks, milestone ladders, conditions and timing."""

from rules.engine import Engine, EngineResult
from rules.loader import load_ruleset
from rules.problems import RuleProblem, RulesetError
from rules.ruleset import Ruleset

__all__ = ["Engine", "EngineResult", "Ruleset", "RulesetError", "RuleProblem", "load_ruleset"]
