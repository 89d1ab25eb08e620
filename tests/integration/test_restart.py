"""kill -9 the worker and start it again on the same broker: nothing lost, nothing celebrated twice."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from nudgeflow.channels.inapp.auth import issue_token
from nudgeflow.orchestrator.broker.embedded import free_port
from nudgeflow.orchestrator.broker.tansu_offsets import true_end_offsets
from tests.support.events import identify, track
from tests.support.kafka import eventually, produce, read_topic
from tests.support.processes import WorkerProcess, settings_env

SECRET = "restart-test-signing-secret"


@pytest.fixture
def worker_process(make_settings, rules_path: Path, tmp_path: Path) -> Iterator[WorkerProcess]:  # type: ignore[no-untyped-def]
    process = WorkerProcess(
        make_settings(rules_path, api_port=free_port(), inapp_signing_secret=SECRET), tmp_path / "worker.log"
    )
    yield process
    process.stop()


def auth(process: WorkerProcess, user: str) -> dict[str, str]:
    """A token signed with the key the child process actually got from its environment."""
    secret = settings_env(process.settings)["NUDGEFLOW_INAPP_SIGNING_SECRET"]
    return {"Authorization": f"Bearer {issue_token(secret, user)}"}


async def prompts(process: WorkerProcess, user: str) -> list[dict[str, object]]:
    async with httpx.AsyncClient(base_url=process.api_url) as client:
        return list((await client.get(f"/v1/users/{user}/prompts", headers=auth(process, user))).json()["prompts"])


async def test_worker_killed_and_restarted_keeps_state_and_prompts(worker_process: WorkerProcess) -> None:
    settings = worker_process.settings
    bootstrap, topic = settings.kafka_bootstrap_servers or "", settings.events_topic
    await worker_process.start()
    connect = track("ivy", "Data Source Connected", {"status": "ok", "source": "BigQuery"}, message_id="c-1")
    await produce(bootstrap, topic, [(b"ivy", identify("ivy", {"role": "admin"})), (b"ivy", connect)])
    [first] = await eventually(lambda: prompts(worker_process, "ivy"))
    async with httpx.AsyncClient(base_url=worker_process.api_url) as client:
        await client.post(
            f"/v1/users/ivy/prompts/{first['delivery_id']}/status",
            json={"status": "seen"},
            headers=auth(worker_process, "ivy"),
        )

    worker_process.kill()
    await worker_process.start()

    # The same message again, and a new one for the same milestone: neither celebrates twice.
    again = track("ivy", "Data Source Connected", {"status": "ok", "source": "Snowflake"}, message_id="c-2")
    await produce(
        bootstrap, topic, [(b"ivy", connect), (b"ivy", again), (b"ivy", track("ivy", "Teammate Invited", {}))]
    )
    after = await eventually(lambda: _when_count(prompts(worker_process, "ivy"), 2))
    titles = {p["title"]: p for p in after}
    assert set(titles) == {"You connected BigQuery!", "Team work!"}
    assert titles["You connected BigQuery!"]["status"] == "seen", "prompt state survived the restart"
    assert titles["Team work!"]["body"] == "2 of 2 done", "progress survived the restart"

    outcomes = await read_topic(bootstrap, settings.outcomes_topic)
    completions = {
        o["attributes"]["message_id"]
        for o in outcomes
        if o["kind"] == "milestone_completed" and o["milestone_id"] == "connect_source"
    }
    assert completions == {"c-1"}, "the restarted worker knew the milestone was already done"


async def _when_count(listing, count: int):  # type: ignore[no-untyped-def]
    items = await listing
    return items if len(items) >= count else None


@pytest.mark.parametrize("path", ["bulk", "faust"])
async def test_worker_restarted_without_its_local_state_restores_every_user_from_batched_changelogs(
    worker_process: WorkerProcess, path: str
) -> None:
    """The changelog is written in multi-record batches, whose end Tansu lists short: the restore
    must read to the true end, or the last users of each batch come back without their progress.
    Both ways of restoring: in bulk (broker/bulk_restore.py, from 1 record behind here) and
    Faust's per-record recovery (what a worker a few records behind uses)."""
    min_records = 1 if path == "bulk" else 1_000_000
    worker_process.settings = worker_process.settings.model_copy(update={"bulk_restore_min_records": min_records})
    settings = worker_process.settings
    bootstrap, topic = settings.kafka_bootstrap_servers or "", settings.events_topic
    users = [f"u{n:03}" for n in range(80)]
    await worker_process.start()
    connects = [
        (user.encode(), track(user, "Data Source Connected", {"status": "ok", "source": "BigQuery"}, f"c-{user}"))
        for user in users
    ]
    await produce_fast(bootstrap, topic, [(u.encode(), identify(u, {"role": "admin"})) for u in users] + connects)
    await eventually(lambda: _celebrated(bootstrap, settings.prompts_topic, "You connected BigQuery!", len(users)))
    changelog = [TopicPartition(f"{settings.app_id}-users-changelog", n) for n in range(settings.topic_partitions)]
    listed, true_ends = await _listed_and_true_ends(bootstrap, changelog)
    assert any(listed[tp] < true_ends[tp] for tp in changelog), "the test needs batches Tansu lists short"

    worker_process.stop()
    shutil.rmtree(worker_process.settings.table_dir)
    await worker_process.start()

    invites = [(user.encode(), track(user, "Teammate Invited", {})) for user in users]
    await produce_fast(bootstrap, topic, invites + connects)  # the connects again: already done, no celebration
    team_work = await eventually(lambda: _celebrated(bootstrap, settings.prompts_topic, "Team work!", len(users)))
    assert {p["body"] for p in team_work} == {"2 of 2 done"}, "every user's progress came back from the changelog"
    connected = await _celebrated(bootstrap, settings.prompts_topic, "You connected BigQuery!", 0)
    assert len(connected or []) == len(users), "nobody was celebrated twice"
    restored_in_bulk = await _restored_records(worker_process)
    assert (restored_in_bulk >= len(users)) if path == "bulk" else (restored_in_bulk == 0), worker_process.log_tail()


async def _restored_records(process: WorkerProcess) -> float:
    async with httpx.AsyncClient(base_url=process.api_url) as client:
        text = (await client.get("/metrics")).text
    lines = [line for line in text.splitlines() if line.startswith("nudgeflow_restored_records_total ")]
    return float(lines[0].split()[1]) if lines else 0.0


async def produce_fast(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    """All records in a few produce requests, so the worker handles them in batches."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20)
    await producer.start()
    try:
        await asyncio.gather(*[await producer.send(topic, value, key=key) for key, value in records])
    finally:
        await producer.stop()


async def _celebrated(bootstrap: str, prompts_topic: str, title: str, count: int) -> list[dict[str, Any]] | None:
    found = [p for p in await read_topic(bootstrap, prompts_topic) if p and p.get("title") == title]
    return found if len(found) >= count else None


async def _listed_and_true_ends(
    bootstrap: str, partitions: list[TopicPartition]
) -> tuple[dict[TopicPartition, int], dict[TopicPartition, int]]:
    probe = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await probe.start()
    try:
        listed = await probe.end_offsets(partitions)
        return listed, await true_end_offsets(probe, listed)
    finally:
        await probe.stop()
