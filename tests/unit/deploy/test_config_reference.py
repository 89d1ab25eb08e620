"""docs/configuration.md is generated from Settings and topic_specs and must stay in step."""

from __future__ import annotations

from deploy.config_reference import DOC, render_reference
from nudgeflow.orchestrator.settings import Settings
from nudgeflow.orchestrator.topics import topic_specs


def test_configuration_doc_is_up_to_date() -> None:
    assert DOC.read_text() == render_reference(), (
        "docs/configuration.md is out of date: run `python -m deploy.config_reference`"
    )


def test_every_setting_and_topic_is_documented() -> None:
    text = render_reference()
    for name, field in Settings.model_fields.items():
        row = next(line for line in text.splitlines() if line.startswith(f"| `NUDGEFLOW_{name.upper()}` |"))
        assert row.rstrip(" |").split("|")[-1].strip(), f"{name} has no description"
        if field.description:
            assert " ".join(field.description.split()).replace("|", "\\|") in row
    for spec in topic_specs(Settings.defaults()):
        assert f"| `{spec.name}` |" in text


def test_secrets_are_marked_and_have_no_default_shown() -> None:
    row = next(line for line in render_reference().splitlines() if "NUDGEFLOW_KAFKA_SASL_PASSWORD" in line)
    assert "secret" in row and "| — |" in row
