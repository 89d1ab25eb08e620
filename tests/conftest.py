"""Shared fixtures: one real Tansu broker per test session, isolated topics per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from nudgeflow.orchestrator.broker.embedded import EmbeddedBroker
from nudgeflow.orchestrator.settings import Settings
from tests.support.inapp import TEST_SIGNING_SECRET

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def broker() -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker() as running:
        yield running


@pytest.fixture
def make_settings(broker: EmbeddedBroker, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Settings on the session broker with topics and group unique to this test."""

    def factory(rules_path: Path, **overrides: object) -> Settings:
        prefix = f"t{uuid.uuid4().hex[:8]}"
        values: dict[str, object] = dict(
            kafka_bootstrap_servers=broker.bootstrap_servers,
            broker_profile="tansu",
            app_id=prefix,
            events_topic=f"{prefix}.events",
            dead_letter_topic=f"{prefix}.dlq",
            outcomes_topic=f"{prefix}.outcomes",
            prompts_topic=f"{prefix}.prompts",
            deliveries_topic=f"{prefix}.deliveries",
            preferences_topic=f"{prefix}.preferences",
            topic_partitions=4,
            rules_path=rules_path,
            table_dir=tmp_path / "tables",
            api_port=0,
            inapp_signing_secret=TEST_SIGNING_SECRET,
        )
        values.update(overrides)
        return Settings(**values)  # type: ignore[arg-type]

    return factory
