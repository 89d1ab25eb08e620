"""Restart with N users on RocksDB: changelog restore with the local state wiped, then restart with it.

The changelog gets N user records (bench/state.py shapes them); then a worker, each in a child process
so its RSS is the worker's alone (not this process's copy of the changelog):
1. starts on an empty table_dir: it restores every record from the changelog (`restore_records_per_s`);
2. stops and starts again on the same table_dir: RocksDB already holds the state, only the changelog
   offsets past it are read (`restart_ready_s`); its RSS once ready, over N, is `rss_bytes_per_user`.
Ready means partitions assigned and tables recovered (`Worker.wait_ready`).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

PARTITIONS = 8


@dataclass
class RestartCosts:
    users: int
    changelog_write_seconds: float
    restore_records: int
    restore_seconds: float
    restore_rss_bytes: int
    restart_records: int
    restart_seconds: float
    restart_rss_bytes: int
    table_dir_bytes: int
    restore_profile: list[tuple[str, float, float]]


def settings_for(bootstrap: str, prefix: str, table_dir: Path) -> dict[str, Any]:
    return {
        "kafka_bootstrap_servers": bootstrap,
        "broker_profile": "tansu",
        "app_id": prefix,
        "events_topic": f"{prefix}.events",
        "dead_letter_topic": f"{prefix}.dlq",
        "outcomes_topic": f"{prefix}.outcomes",
        "prompts_topic": f"{prefix}.prompts",
        "deliveries_topic": f"{prefix}.deliveries",
        "timers_topic": f"{prefix}.timers",
        "preferences_topic": f"{prefix}.preferences",
        "topic_partitions": PARTITIONS,
        "rules_path": "playbooks",
        "table_dir": str(table_dir),
        "run_api": False,
    }


async def write_changelog(bootstrap: str, prefix: str, changelog: list[tuple[bytes, bytes, int]]) -> float:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics(
        [NewTopic(f"{prefix}-users-changelog", PARTITIONS, 1, topic_configs={"cleanup.policy": "compact"})]
    )
    await admin.close()
    # Batched as a worker's own changelog writes are: the restore must read past Tansu's short
    # ListOffsets answer for such batches (orchestrator/broker/tansu_offsets.py).
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    started = time.perf_counter()
    pending = []
    for key, value, partition in changelog:
        pending.append(await producer.send(f"{prefix}-users-changelog", value, key=key, partition=partition))
        if len(pending) >= 2000:
            await asyncio.gather(*pending)
            pending.clear()
    await asyncio.gather(*pending)
    written = time.perf_counter() - started
    await producer.stop()
    return written


def _start_worker(settings: dict[str, Any], *, profile: bool) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.worker_probe", json.dumps(settings)] + (["--profile"] if profile else [])
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def restart_costs(
    bootstrap: str, changelog: list[tuple[bytes, bytes, int]], scratch: Path, *, profile: bool = False
) -> RestartCosts:
    prefix = f"bench-restart-{uuid.uuid4().hex[:6]}"
    written = asyncio.run(write_changelog(bootstrap, prefix, changelog))
    users = len(changelog)
    del changelog[:]  # the caller's list: not needed any more
    settings = settings_for(bootstrap, prefix, scratch / "tables")
    restore = _start_worker(settings, profile=profile)
    restart = _start_worker(settings, profile=False)
    return RestartCosts(
        users=users,
        changelog_write_seconds=written,
        restore_records=restore["recovered"],
        restore_seconds=restore["ready_seconds"],
        restore_rss_bytes=restore["rss_bytes"],
        restart_records=restart["recovered"],
        restart_seconds=restart["ready_seconds"],
        restart_rss_bytes=restart["rss_bytes"],
        table_dir_bytes=_size(scratch / "tables"),
        restore_profile=restore.get("profile", []),
    )
