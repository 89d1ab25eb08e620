"""kill -9 of one of two / three workers at a random moment under ≥ 300 events/s, no restart: the
survivors take its partitions over and every user's celebrations and stall nudges arrive exactly once.
bench/faults.py repeats this 20+ times (docs/faults.md); here one run per group size."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from nudgeflow.orchestrator.broker.embedded import EmbeddedBroker
from tests.integration.faults.takeover import run_takeover

pytestmark = pytest.mark.timeout(240)  # typical 30-45 s per run; margin for a loaded 2-core CI machine


@pytest.fixture
def own_broker() -> Iterator[EmbeddedBroker]:
    """A broker for this run only, as in production: the session broker holds the topics of every test
    before it, which slows Tansu's group and metadata answers well below what this load needs."""
    with EmbeddedBroker() as broker:
        yield broker


@pytest.mark.parametrize("workers", [2, 3])
async def test_takeover_loses_nothing(make_settings, tmp_path: Path, workers: int, own_broker: EmbeddedBroker) -> None:  # type: ignore[no-untyped-def]
    base = make_settings(tmp_path / "unused", kafka_bootstrap_servers=own_broker.bootstrap_servers)
    run = await run_takeover(base, tmp_path, workers=workers, seed=random.randrange(1 << 30))
    print(f"takeover run: {run}")
    assert run.rate >= 250, f"load too slow to mean anything: {run.rate:.0f} events/s"
    assert not run.missing, f"{len(run.missing)} prompts missing, e.g. {run.missing[:5]}; " + "; ".join(run.lost_where)
    assert not run.unexpected, run.unexpected[:5]
    assert not run.inbox_problems, run.inbox_problems[:5]
    assert not run.double_completions, run.double_completions[:5]
    assert run.takeover_s is not None, "some partition never produced again after the kill"
