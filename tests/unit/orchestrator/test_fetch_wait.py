"""Faust's worker consumer waits as long as our broker profile says, not Faust's fixed 1.5 s: on Tansu
that wait is added to every hop from event to prompt."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nudgeflow.orchestrator.app import faust_app
from nudgeflow.orchestrator.settings import Settings


def worker_consumer_wait(settings: Settings) -> int:
    app: Any = faust_app(settings, "localhost:9092")
    thread = app.consumer._thread
    consumer = thread._create_worker_consumer(app.transport)  # built, not started: no broker needed
    return int(consumer._fetch_max_wait_ms)


@pytest.mark.parametrize(
    ("profile", "explicit", "expected"),
    [("tansu", None, 20), ("kafka", None, 500), ("tansu", 250, 250)],
)
async def test_the_worker_consumer_uses_the_profile_fetch_wait(
    tmp_path: Path, profile: str, explicit: int | None, expected: int
) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        table_dir=tmp_path,
        broker_profile=profile,  # type: ignore[arg-type]
        kafka_fetch_wait_ms=explicit,
    )
    assert settings.fetch_wait_ms == expected
    assert worker_consumer_wait(settings) == expected
