"""A live batch of fuzzed records through a worker: every record decode_event rejects lands in the
dead-letter topic with its original bytes, nothing valid does, and the partition keeps moving.
Except noise: a call no rule reads (judged by type, user and name alone) is dropped at ingest
before validation, broken or not."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import AIOKafkaProducer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nudgeflow.orchestrator.ingest.decode import Rejected, decode_event, read_call
from nudgeflow.orchestrator.runtime.worker import Worker
from tests.integration.faults.test_fuzz_decode import BREAKS
from tests.support import hostile as hostile_strategies
from tests.support.kafka import eventually, produce, read_topic

pytestmark = pytest.mark.timeout(90)


def is_noise(worker: Worker, value: bytes | None) -> bool:
    """Dropped by the ingest pre-filter before validation: a call whose name no rule of the worker reads."""
    assert worker.nudgeflow is not None
    call = read_call(value)
    return (
        not isinstance(call, Rejected)
        and call.name is not None
        and not worker.nudgeflow.handler.step.reads_track(call.name)
    )


def fuzzed_records(count: int, seed: int = 5) -> list[tuple[bytes | None, bytes]]:
    rng = random.Random(seed)
    records: list[tuple[bytes | None, bytes]] = []
    for i in range(count):
        user = f"fz-{i % 37}"
        document = {
            "type": rng.choice(["track", "identify"]),
            "messageId": f"fz-{i}",
            "userId": user,
            "timestamp": (datetime.now(UTC) - timedelta(seconds=rng.randint(0, 10**6))).isoformat(),
            "event": rng.choice(["Teammate Invited", "Page Viewed", "é🎉"]),
            "properties": {"n": rng.randint(-5, 5)},
            "traits": {"role": rng.choice(["admin", None, 3])},
        }
        roll = rng.random()
        if roll < 0.35:
            value = json.dumps(document).encode()
        elif roll < 0.7:
            BREAKS[rng.choice(sorted(BREAKS))](document)
            value = json.dumps(document).encode()
        elif roll < 0.85:
            value = rng.randbytes(rng.randint(0, 60))
        else:
            raw = json.dumps(document).encode()
            cut = rng.randint(0, len(raw))
            value = raw[:cut] + rng.randbytes(rng.randint(0, 3)) + raw[cut + 1 :]
        records.append((user.encode() if rng.random() < 0.9 else None, value))
    return records


async def test_every_invalid_fuzzed_record_is_dead_lettered(worker: Worker) -> None:
    records = fuzzed_records(300)
    invalid = Counter(
        value for _, value in records if isinstance(decode_event(value), Rejected) and not is_noise(worker, value)
    )
    valid = len(records) - sum(invalid.values())  # valid, or noise dropped without validation
    assert invalid and valid > 50, "the batch mixes both"
    await produce(worker.bootstrap_servers, worker.settings.events_topic, records)

    letters = await read_topic(
        worker.bootstrap_servers,
        worker.settings.dead_letter_topic,
        timeout=30,
        until=lambda values: len(values) >= sum(invalid.values()),
    )
    assert worker.nudgeflow is not None and worker.ingest is not None
    stats, ingest = worker.nudgeflow.stats, worker.ingest.counts
    # Every valid record is either processed (or a duplicate) by the agent, or dropped at ingest as
    # an event no rule reads; none is lost.
    await eventually(lambda: stats.processed + stats.duplicates + ingest.filtered >= valid, timeout=20)
    assert Counter(base64.b64decode(letter["value_base64"]) for letter in letters) == invalid
    assert not [letter for letter in letters if letter["error_type"] == "processing_error"]
    assert stats.processed + stats.duplicates + ingest.filtered == valid


def hostile_records(valid_count: int = 40, seed: int = 9) -> tuple[list[tuple[bytes, bytes]], list[bytes]]:
    """Valid events (distinct messageIds, keyed by user) with hostile ones between them: values of
    0.75, 3 and 5 MB, JSON nested 100,000 deep alone and inside an event, random bytes, an empty value.
    Returns (records in produce order, the hostile values)."""
    rng = random.Random(seed)
    blob = json.dumps({"type": "track", "userId": "big", "messageId": "big", "event": "x", "properties": {}})
    hostile = [
        blob.replace("{}", json.dumps({"blob": "x" * 750_000})).encode(),
        blob.replace("{}", json.dumps({"blob": "y" * 3_000_000})).encode(),
        rng.randbytes(5 * 1024 * 1024),
        b"[" * 100_000,
        blob.replace("{}", '{"a":' * 20_000 + "1" + "}" * 20_000).encode(),
        blob.replace("{}", "[" * 40 + "]" * 40).encode(),
        b"",
        *(rng.randbytes(rng.randint(1, 200)) for _ in range(8)),
    ]
    records: list[tuple[bytes, bytes]] = []
    for i in range(valid_count):
        user = f"hz-{i % 7}"
        document = {
            "type": "track",
            "messageId": f"hz-{i}",
            "userId": user,
            "event": "Page Viewed",
            "timestamp": datetime.now(UTC).isoformat(),
        }
        records.append((user.encode(), json.dumps(document).encode()))
        if i % 3 == 0 and hostile[i // 3 :]:
            records.append((user.encode(), hostile[i // 3]))
    records += [(b"hz-tail", value) for value in hostile[(valid_count + 2) // 3 :]]
    return records, hostile


async def test_oversized_and_deeply_nested_records_are_dead_lettered_and_the_agent_never_restarts(
    worker: Worker, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue #14 item 4: on the old code the 3 MB record's dead letter exceeded the producer's request
    size and the deep JSON raised RecursionError; each crashed the agent (restarted ~5 s later)."""
    caplog.set_level(logging.WARNING)
    records, hostile = hostile_records()
    valid = len(records) - len(hostile)
    producer = AIOKafkaProducer(bootstrap_servers=worker.bootstrap_servers, max_request_size=8 * 1024 * 1024)
    await producer.start()
    try:
        for key, value in records:
            await producer.send_and_wait(worker.settings.events_topic, value, key=key)
    finally:
        await producer.stop()

    letters = await read_topic(
        worker.bootstrap_servers,
        worker.settings.dead_letter_topic,
        timeout=40,
        until=lambda values: len(values) >= len(hostile),
    )
    assert Counter(letter["value_sha256"] for letter in letters) == Counter(
        hashlib.sha256(value).hexdigest() for value in hostile
    )
    by_hash = {letter["value_sha256"]: letter for letter in letters}
    for value in hostile:
        letter = by_hash[hashlib.sha256(value).hexdigest()]
        assert letter["value_size"] == len(value) and letter["source_topic"] == worker.settings.events_topic
        kept = base64.b64decode(letter["value_base64"])
        assert kept == (value if not letter["value_truncated"] else value[: len(kept)]) and len(kept) <= 262_144
    assert {letter["error_type"] for letter in letters} >= {"too_large", "too_deep", "empty", "not_json"}
    assert worker.nudgeflow is not None and worker.ingest is not None
    stats, ingest = worker.nudgeflow.stats, worker.ingest.counts
    await eventually(lambda: stats.processed + ingest.filtered >= valid, timeout=20)
    assert (stats.processed + ingest.filtered, stats.duplicates, ingest.dead_lettered) == (valid, 0, len(hostile))
    crashes = [r.getMessage() for r in caplog.records if "crashed" in r.getMessage().lower()]
    assert not crashes, crashes[:3]


def drawn_records() -> list[tuple[bytes | None, bytes | None]]:
    """A few hundred hypothesis-drawn records (any bytes, up to 1 MB, deep nesting, tombstones) with
    the valid ones given unique messageIds and keyed by their user, so each must be processed once."""
    drawn: list[bytes | None] = []

    @settings(deadline=None, suppress_health_check=list(HealthCheck), database=None, derandomize=True, max_examples=40)
    @given(st.lists(hostile_strategies.records(max_size=1024 * 1024), min_size=1, max_size=8))
    def draw(batch: list[bytes | None]) -> None:
        drawn.extend(batch)

    draw()
    out: list[tuple[bytes | None, bytes | None]] = []
    for i, raw in enumerate(drawn):
        decoded = decode_event(raw)
        if isinstance(decoded, Rejected):
            out.append((b"drawn", raw))
        else:
            fresh = hostile_strategies.event(decoded.userId, i, message_id=f"drawn-{i}")
            out.append((decoded.userId.encode(), json.dumps(fresh).encode()))
    return out


async def test_hypothesis_drawn_records_live_every_bad_one_dead_lettered_every_valid_one_processed_once(
    worker: Worker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    records = drawn_records()
    bad = Counter(
        hashlib.sha256(v or b"").hexdigest()
        for _, v in records
        if isinstance(decode_event(v), Rejected) and not is_noise(worker, v)
    )
    valid = len(records) - sum(bad.values())  # valid, or noise dropped without validation
    assert sum(bad.values()) >= 50 and valid >= 20, (len(bad), valid)
    producer = AIOKafkaProducer(bootstrap_servers=worker.bootstrap_servers, max_request_size=2 * 1024 * 1024)
    await producer.start()
    try:
        for key, value in records:
            await producer.send_and_wait(worker.settings.events_topic, value, key=key)
    finally:
        await producer.stop()
    letters = await read_topic(
        worker.bootstrap_servers,
        worker.settings.dead_letter_topic,
        timeout=40,
        until=lambda values: len(values) >= sum(bad.values()),
    )
    assert Counter(letter["value_sha256"] for letter in letters) == bad
    assert worker.nudgeflow is not None and worker.ingest is not None
    stats, ingest = worker.nudgeflow.stats, worker.ingest.counts
    await eventually(lambda: stats.processed + ingest.filtered >= valid, timeout=20)
    assert (stats.processed + ingest.filtered, stats.duplicates, stats.rekeyed) == (valid, 0, 0)
    crashes = [r.getMessage() for r in caplog.records if "crashed" in r.getMessage().lower()]
    assert not crashes, crashes[:3]
