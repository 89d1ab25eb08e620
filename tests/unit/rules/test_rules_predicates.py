"""Each `where` operator, as a playbook author would use it."""

from __future__ import annotations

import pytest

from nudgeflow.rules.predicates import matches
from nudgeflow.rules.schema import When


def where(spec: dict) -> dict:
    return When(event="E", where=spec).where


@pytest.mark.parametrize(
    ("spec", "props", "expected"),
    [
        ({"plan": "pro"}, {"plan": "pro"}, True),
        ({"plan": "pro"}, {"plan": "free"}, False),
        ({"plan": "pro"}, {}, False),
        ({"enabled": True}, {"enabled": 1}, False),  # true is not the number 1
        ({"enabled": True}, {"enabled": True}, True),
        ({"seats": 5}, {"seats": 5.0}, True),
        ({"plan": {"in": ["pro", "team"]}}, {"plan": "team"}, True),
        ({"plan": {"in": ["pro", "team"]}}, {"plan": "free"}, False),
        ({"plan": {"in": ["pro"]}}, {}, False),
        ({"status": {"not_in": ["failed"]}}, {"status": "ok"}, True),
        ({"status": {"not_in": ["failed"]}}, {"status": "failed"}, False),
        ({"status": {"not_in": ["failed"]}}, {}, True),
        ({"rows": {"gt": 0}}, {"rows": 10}, True),
        ({"rows": {"gt": 0}}, {"rows": 0}, False),
        ({"rows": {"gte": 3}}, {"rows": 3}, True),
        ({"rows": {"lt": 3}}, {"rows": 3}, False),
        ({"rows": {"lte": 3}}, {"rows": 3}, True),
        ({"rows": {"gt": 0}}, {"rows": "many"}, False),  # type mismatch is no match, not a crash
        ({"rows": {"gt": 0}}, {"rows": True}, False),
        ({"rows": {"gt": 0, "lt": 10}}, {"rows": 20}, False),  # operators in one condition are ANDed
        ({"email": {"exists": True}}, {"email": "a@b.c"}, True),
        ({"email": {"exists": True}}, {}, False),
        ({"email": {"exists": False}}, {}, True),
        ({"name": {"contains": "Q3"}}, {"name": "Q3 revenue"}, True),
        ({"tags": {"contains": "beta"}}, {"tags": ["alpha", "beta"]}, True),
        ({"tags": {"contains": "beta"}}, {"tags": ["alpha"]}, False),
        ({"tags": {"contains": "beta"}}, {"tags": 7}, False),
        ({"plan.tier": "gold"}, {"plan": {"tier": "gold"}}, True),  # dotted path into nested object
        ({"plan": "pro", "seats": {"gte": 2}}, {"plan": "pro", "seats": 1}, False),  # all keys must hold
        ({}, {"anything": 1}, True),
    ],
)
def test_where_operators(spec: dict, props: dict, expected: bool) -> None:
    assert matches(where(spec), props) is expected
