"""Evaluate `where`/`audience` predicates against event properties or user traits.

Evaluation never raises: data from the product is untrusted, so a type mismatch
(comparing "abc" with 5) is simply "no match".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nudgeflow.rules.schema import Condition

_MISSING = object()


def lookup(data: Mapping[str, Any], key: str) -> Any:
    """Exact key first, then a dotted path into nested objects ('plan.tier')."""
    if key in data:
        return data[key]
    current: Any = data
    for part in key.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return _MISSING
        current = current[part]
    return current


def _same(actual: Any, expected: Any) -> bool:
    """Equality that does not confuse true with 1."""
    if isinstance(actual, bool) != isinstance(expected, bool):
        return False
    try:
        return bool(actual == expected)
    except Exception:
        return False


def _ordered(actual: Any, expected: Any, op: str) -> bool:
    numbers = (int, float)
    both_numbers = (
        isinstance(actual, numbers)
        and isinstance(expected, numbers)
        and not isinstance(actual, bool)
        and not isinstance(expected, bool)
    )
    if not both_numbers and not (isinstance(actual, str) and isinstance(expected, str)):
        return False
    try:
        if op == "gt":
            return bool(actual > expected)
        if op == "gte":
            return bool(actual >= expected)
        if op == "lt":
            return bool(actual < expected)
        return bool(actual <= expected)
    except Exception:
        return False


def _contains(actual: Any, expected: Any) -> bool:
    if isinstance(actual, str):
        return isinstance(expected, str) and expected in actual
    if isinstance(actual, list | tuple):
        return any(_same(item, expected) for item in actual)
    if isinstance(actual, Mapping):
        return isinstance(expected, str) and expected in actual
    return False


def condition_holds(condition: Condition, actual: Any) -> bool:
    """All operators given in one condition must hold (AND)."""
    present = actual is not _MISSING
    value = actual if present else None
    for op in condition.model_fields_set:
        expected = getattr(condition, op)
        if op == "exists":
            ok = present == bool(expected)
        elif op == "equals":
            ok = _same(value, expected)
        elif op == "in_":
            ok = present and any(_same(value, item) for item in expected or [])
        elif op == "not_in":
            ok = not present or not any(_same(value, item) for item in expected or [])
        elif op == "contains":
            ok = present and _contains(value, expected)
        else:
            ok = present and _ordered(value, expected, op)
        if not ok:
            return False
    return True


def matches(where: Mapping[str, Condition], data: Mapping[str, Any]) -> bool:
    """Every property predicate holds; an empty `where` matches everything."""
    if not isinstance(data, Mapping):
        return not where
    return all(condition_holds(cond, lookup(data, key)) for key, cond in where.items())
