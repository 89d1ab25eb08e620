"""The ingester on the real broker: kill -9 mid-stream, restart, and every record is in DuckDB once."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from aiokafka import AIOKafkaProducer

from nudgeflow.orchestrator.broker.clients import aiokafka_options
from nudgeflow.orchestrator.settings import Settings
from nudgeflow.orchestrator.topics import ensure_topics
from tests.support.kafka import eventually
from tests.support.processes import settings_env

pytestmark = pytest.mark.integration
T0 = datetime(2026, 3, 2, tzinfo=UTC)


def _event(n: int) -> bytes:
    at = (T0 + timedelta(seconds=n)).isoformat()
    return json.dumps(
        {"type": "track", "messageId": f"m{n}", "userId": f"u{n % 700}", "timestamp": at, "event": "Report Created"}
    ).encode()


def _outcome(n: int) -> bytes:
    at = (T0 + timedelta(seconds=n)).isoformat()
    return json.dumps(
        {
            "outcome_id": f"milestone_completed:u{n}:p:first",
            "kind": "milestone_completed",
            "user_id": f"u{n % 700}",
            "occurred_at": at,
            "recorded_at": at,
            "playbook_id": "p",
            "milestone_id": "first",
        }
    ).encode()


async def _produce(settings: Settings, numbers: range, *, chunk: int = 500, pause: float = 0.0) -> None:
    """Both topics, keyed by user like the worker does, in chunks (with a pause between them)."""
    assert settings.kafka_bootstrap_servers
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        for start in range(numbers.start, numbers.stop, chunk):
            for n in range(start, min(start + chunk, numbers.stop)):
                key = f"u{n % 700}".encode()
                await producer.send(settings.events_topic, _event(n), key=key)
                await producer.send(settings.outcomes_topic, _outcome(n), key=key)
            await producer.flush()
            await asyncio.sleep(pause)
    finally:
        await producer.stop()


def _start(settings: Settings, db: Path, log: Path) -> subprocess.Popen[bytes]:
    env = settings_env(settings) | {
        "NUDGEFLOW_ANALYTICS_FLUSH_ROWS": "400",
        "NUDGEFLOW_ANALYTICS_FLUSH_SECONDS": "0.1",
        "NUDGEFLOW_ANALYTICS_SNAPSHOT_SECONDS": "0.2",
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "nudgeflow.orchestrator", "analytics", "ingest", "--db", str(db)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _flushes(log: Path) -> list[dict[str, int]]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]


def _snapshot_of(connection: duckdb.DuckDBPyConnection) -> tuple[int, int] | None:
    """The (events, outcomes) the kept snapshot covers (orchestrator/analytics/snapshot.py), if any."""
    try:
        return connection.execute("SELECT events, outcomes FROM snapshot_of").fetchone()  # type: ignore[return-value]
    except duckdb.CatalogException:
        return None


def _counts(db: Path) -> dict[str, Any]:
    """Read the file between two flushes (the ingester only holds it while writing)."""
    for _ in range(200):
        try:
            connection = duckdb.connect(str(db), read_only=True)
        except (duckdb.IOException, duckdb.ConnectionException):
            import time

            time.sleep(0.05)
            continue
        try:
            return {
                "events": connection.execute("SELECT count(*) FROM events").fetchone()[0],  # type: ignore[index]
                "distinct_events": connection.execute("SELECT count(DISTINCT message_id) FROM events").fetchone()[0],  # type: ignore[index]
                "outcomes": connection.execute("SELECT count(*) FROM outcomes").fetchone()[0],  # type: ignore[index]
                "duplicates": connection.execute("SELECT coalesce(sum(n), 0) FROM duplicates").fetchone()[0],  # type: ignore[index]
                "offsets": connection.execute("SELECT coalesce(sum(next_offset), 0) FROM offsets").fetchone()[0],  # type: ignore[index]
                "snapshot_of": _snapshot_of(connection),
            }
        finally:
            connection.close()
    raise AssertionError("the database stayed locked")


async def test_kill_9_mid_stream_then_restart_has_every_record_exactly_once(make_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(tmp_path)
    assert settings.kafka_bootstrap_servers
    await ensure_topics(settings, aiokafka_options(settings, settings.kafka_bootstrap_servers))
    total, db, log = 12_000, tmp_path / "analytics.duckdb", tmp_path / "ingest.log"
    await _produce(settings, range(0, 3_000))
    ingester = _start(settings, db, log)
    try:
        # the rest arrives while it ingests; kill -9 once a few transactions are in, mid-stream
        producing = asyncio.create_task(_produce(settings, range(3_000, total), pause=0.05))
        await eventually(lambda: len(_flushes(log)) >= 3, timeout=120)
        os.kill(ingester.pid, signal.SIGKILL)
        ingester.wait(10)
        await producing
        before = _counts(db)
        assert 0 < before["events"] + before["outcomes"] < 2 * total and before["duplicates"] == 0
        # a bad record on the topic is skipped, not fatal
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
        await producer.start()
        await producer.send_and_wait(settings.events_topic, b"not json", key=b"u1")
        await producer.stop()

        ingester = _start(settings, db, log)
        await eventually(lambda: _counts(db)["outcomes"] >= total and _counts(db)["events"] >= total, timeout=180)
        # caught up, it keeps the reports' snapshot of exactly what it stored
        await eventually(lambda: _counts(db)["snapshot_of"] == (total, total), timeout=60)
        ingester.send_signal(signal.SIGTERM)
        assert ingester.wait(30) == 0
    finally:
        if ingester.poll() is None:
            ingester.kill()
            ingester.wait(10)
    after = _counts(db)
    # every record once: none lost, none re-inserted (a re-read would show up as a duplicate)
    assert (after["events"], after["distinct_events"], after["outcomes"]) == (total, total, total)
    assert after["duplicates"] == 0
    assert after["offsets"] == 2 * total + 1  # next offsets of every partition: every record read, bad one too
