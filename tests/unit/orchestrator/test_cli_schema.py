"""`nudgeflow schema <topic>`: the JSON Schema of every topic's records, a clear error for any other name."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from nudgeflow.orchestrator.cli import app
from nudgeflow.rules.contracts.catalog import CONTRACTS

runner = CliRunner()


@pytest.mark.parametrize("name", sorted(CONTRACTS))
def test_schema_prints_each_topics_json_schema(name: str) -> None:
    result = runner.invoke(app, ["schema", name])
    assert result.exit_code == 0, result.output
    schema = json.loads(result.output)
    assert schema == CONTRACTS[name].json_schema()
    assert schema["title"].startswith("Nudgeflow")


def test_schema_of_an_unknown_topic_fails_and_lists_the_valid_names() -> None:
    result = runner.invoke(app, ["schema", "delivery"])
    assert result.exit_code == 2
    flat = " ".join(result.output.replace("│", " ").split())
    assert "no contract 'delivery'" in flat
    assert all(name in flat for name in CONTRACTS)


def test_schema_help_names_every_topic() -> None:
    result = runner.invoke(app, ["schema", "--help"])
    assert result.exit_code == 0
    assert all(name in result.output for name in CONTRACTS)
