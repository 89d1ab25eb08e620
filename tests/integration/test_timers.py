"""Stall nudges on durable timers, through the live worker on the real broker."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from nudgeflow.orchestrator.broker.embedded import free_port
from nudgeflow.orchestrator.runtime.worker import Worker
from tests.support.events import track
from tests.support.inapp import list_prompts
from tests.support.kafka import eventually, produce, read_topic
from tests.support.playbooks import stall_rules
from tests.support.processes import WorkerProcess
from tests.support.worker import prompts_of


async def test_stall_nudges_fire_in_sequence_then_stop_at_max(make_settings, tmp_path: Path) -> None:
    async with Worker(make_settings(stall_rules(tmp_path, "2s"))) as worker:
        await worker.wait_ready()
        started = time.time()
        await produce(
            worker.bootstrap_servers,
            worker.settings.events_topic,
            [(b"kim", track("kim", "Data Source Connected", {}))],
        )
        nudges = await eventually(lambda: _at_least(prompts_of(worker, "kim"), 2), timeout=20)
        assert [p["body"] for p in sorted(nudges, key=lambda p: p["created_at"])] == ["nudge 1", "nudge 2"]
        assert all(p["kind"] == "nudge" for p in nudges)
        first = min(p["created_at"] for p in nudges)
        lag = _epoch(first) - (started + 2)
        assert -0.5 < lag < 2.0, f"first nudge fired {lag:.2f}s after its due time"
        await _sleep(3)
        assert len(await prompts_of(worker, "kim")) == 2, "no nudge beyond the rule's two"


async def test_completing_the_milestone_cancels_the_stall(make_settings, tmp_path: Path) -> None:
    async with Worker(make_settings(stall_rules(tmp_path, "3s"))) as worker:
        await worker.wait_ready()
        await produce(
            worker.bootstrap_servers,
            worker.settings.events_topic,
            [(b"lou", track("lou", "Data Source Connected", {})), (b"lou", track("lou", "Teammate Invited", {}))],
        )
        await eventually(lambda: prompts_of(worker, "lou"))
        await _sleep(5)
        assert [p["title"] for p in await prompts_of(worker, "lou")] == ["Team work!"]
        outcomes = await read_topic(worker.bootstrap_servers, worker.settings.outcomes_topic)
        assert any(o["kind"] == "nudge_cancelled" for o in outcomes)


@pytest.fixture
def stall_worker(make_settings, tmp_path: Path) -> Iterator[WorkerProcess]:  # type: ignore[no-untyped-def]
    process = WorkerProcess(make_settings(stall_rules(tmp_path, "8s"), api_port=free_port()), tmp_path / "worker.log")
    yield process
    process.stop()


async def test_armed_timer_survives_a_worker_kill(stall_worker: WorkerProcess) -> None:
    settings = stall_worker.settings
    await stall_worker.start()
    await produce(
        settings.kafka_bootstrap_servers or "",
        settings.events_topic,
        [(b"max", track("max", "Data Source Connected", {}))],
    )
    await eventually(lambda: _scheduled(settings), timeout=10)
    stall_worker.kill()
    await stall_worker.start()
    nudges = await eventually(lambda: list_prompts(stall_worker.api_url, "max"), timeout=30)
    assert [p["body"] for p in nudges] == ["nudge 1"]


async def _scheduled(settings) -> bool:  # type: ignore[no-untyped-def]
    outcomes = await read_topic(settings.kafka_bootstrap_servers, settings.outcomes_topic, timeout=2)
    return any(o["kind"] == "nudge_scheduled" for o in outcomes)


async def _at_least(listing, count: int):  # type: ignore[no-untyped-def]
    items = await listing
    return items if len(items) >= count else None


def _epoch(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso).timestamp()


async def _sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


async def test_timers_of_a_killed_worker_fire_on_the_other_once(make_settings, tmp_path: Path) -> None:
    settings = make_settings(stall_rules(tmp_path, "10s"))
    first = WorkerProcess(settings.model_copy(update={"api_port": free_port()}), tmp_path / "first.log")
    second = WorkerProcess(settings.model_copy(update={"api_port": free_port()}), tmp_path / "second.log")
    users = [f"u{n}" for n in range(24)]
    try:
        await first.start()
        await second.start()
        await produce(
            settings.kafka_bootstrap_servers or "",
            settings.events_topic,
            [(user.encode(), track(user, "Data Source Connected", {})) for user in users],
        )
        await eventually(lambda: _scheduled_count(settings, len(users)), timeout=15)
        first.kill()  # half of the users' timers were armed there

        async def everyone_nudged() -> bool:
            listings = [await list_prompts(second.api_url, user, retry_later=True) for user in users]
            return all(listings)

        await eventually(everyone_nudged, timeout=40, interval=0.5)
        for user in users:
            assert [p["body"] for p in await list_prompts(second.api_url, user)][-1:] == ["nudge 1"]
        outcomes = await read_topic(settings.kafka_bootstrap_servers or "", settings.outcomes_topic)
        delivered = {o["outcome_id"] for o in outcomes if o["kind"] == "delivered"}
        assert len(delivered) >= len(users)
        nudged_users = {o["user_id"] for o in outcomes if o["kind"] == "delivered"}
        assert nudged_users == set(users)
    finally:
        first.stop()
        second.stop()


async def _scheduled_count(settings, expected: int) -> bool:  # type: ignore[no-untyped-def]
    outcomes = await read_topic(settings.kafka_bootstrap_servers, settings.outcomes_topic, timeout=2)
    return len({o["user_id"] for o in outcomes if o["kind"] == "nudge_scheduled"}) >= expected
