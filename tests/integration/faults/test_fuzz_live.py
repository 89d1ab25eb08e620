"""A live batch of fuzzed records through a worker: every record decode_event rejects lands in the
dead-letter topic with its original bytes, nothing valid does, and the partition keeps moving."""

from __future__ import annotations

import base64
import json
import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from nudgeflow.orchestrator.ingest.decode import Rejected, decode_event
from nudgeflow.orchestrator.runtime.worker import Worker
from tests.integration.faults.test_fuzz_decode import BREAKS
from tests.support.kafka import eventually, produce, read_topic

pytestmark = pytest.mark.timeout(60)


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
    invalid = Counter(value for _, value in records if isinstance(decode_event(value), Rejected))
    valid = len(records) - sum(invalid.values())
    assert invalid and valid > 50, "the batch mixes both"
    await produce(worker.bootstrap_servers, worker.settings.events_topic, records)

    letters = await read_topic(
        worker.bootstrap_servers,
        worker.settings.dead_letter_topic,
        timeout=30,
        until=lambda values: len(values) >= sum(invalid.values()),
    )
    assert worker.nudgeflow is not None
    stats = worker.nudgeflow.stats
    await eventually(lambda: stats.processed + stats.duplicates >= valid, timeout=20)
    assert Counter(base64.b64decode(letter["value_base64"]) for letter in letters) == invalid
    assert not [letter for letter in letters if letter["error_type"] == "processing_error"]
    assert stats.processed + stats.duplicates == valid
