"""Fault tests: bounded (each well under 60 s), loopback only. They run in the default suite;
deselect them with `-m "not faults"`."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "faults: fault-injection tests (kill -9, broker pause, fuzzing, scale-out)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/faults/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.faults)
