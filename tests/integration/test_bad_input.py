"""Malformed records go to the dead-letter topic with a reason; valid events after them still count."""

from __future__ import annotations

import base64
import json

from nudgeflow.orchestrator.broker.partitioning import partition_for
from nudgeflow.orchestrator.runtime.worker import Worker
from tests.support.events import identify, track
from tests.support.kafka import eventually, produce, read_topic
from tests.support.worker import prompts_of

MALFORMED: dict[str, bytes] = {
    "not_json": b"{this is not json",
    "schema": json.dumps(
        {"type": "track", "messageId": "m1", "userId": "fay", "timestamp": "2026-01-01T00:00:00Z"}
    ).encode(),  # no event name
    "missing_user_id": json.dumps(
        {"type": "track", "messageId": "m2", "event": "Teammate Invited", "timestamp": "2026-01-01T00:00:00Z"}
    ).encode(),
    "bad_timestamp": json.dumps(
        {"type": "track", "messageId": "m3", "userId": "fay", "event": "Teammate Invited", "timestamp": "yesterday"}
    ).encode(),
    "empty": b"",
}


async def test_each_kind_of_malformed_event_is_dead_lettered_and_the_partition_moves_on(worker: Worker) -> None:
    records = [(b"fay", value) for value in MALFORMED.values()]
    records += [(b"fay", identify("fay", {"role": "admin"})), (b"fay", track("fay", "Teammate Invited", {}))]
    await produce(worker.bootstrap_servers, worker.settings.events_topic, records)

    letters = await read_topic(
        worker.bootstrap_servers, worker.settings.dead_letter_topic, until=lambda values: len(values) >= len(MALFORMED)
    )
    by_type = {letter["error_type"]: letter for letter in letters}
    assert set(by_type) == set(MALFORMED)
    for error_type, original in MALFORMED.items():
        letter = by_type[error_type]
        assert base64.b64decode(letter["value_base64"]) == original, "original bytes are kept"
        assert letter["source_topic"] == worker.settings.events_topic
        assert letter["source_offset"] >= 0 and letter["source_partition"] >= 0
        assert letter["reason"]
    assert "event" in by_type["schema"]["reason"]
    assert "timestamp" in by_type["bad_timestamp"]["reason"]

    prompts = await eventually(lambda: prompts_of(worker, "fay"))
    assert [p["title"] for p in prompts] == ["Team work!"]


async def test_duplicate_message_id_is_celebrated_once(worker: Worker) -> None:
    event = track("gus", "Teammate Invited", {}, message_id="same-id")
    await produce(
        worker.bootstrap_servers,
        worker.settings.events_topic,
        [(b"gus", identify("gus", {"role": "admin"})), (b"gus", event), (b"gus", event)],
    )
    await eventually(lambda: prompts_of(worker, "gus"))
    await eventually(lambda: worker.nudgeflow and worker.nudgeflow.stats.duplicates >= 1)
    assert len(await prompts_of(worker, "gus")) == 1


async def test_keyless_events_are_routed_to_the_users_partition(worker: Worker) -> None:
    # Keyless records land on any partition, so only their order relative to each other is lost.
    await produce(
        worker.bootstrap_servers,
        worker.settings.events_topic,
        [(b"hal", identify("hal", {"role": "admin"})), (None, track("hal", "Teammate Invited", {}))],
    )
    prompts = await eventually(lambda: prompts_of(worker, "hal"))
    assert [p["title"] for p in prompts] == ["Team work!"]
    forwarded = await read_topic(worker.bootstrap_servers, worker.settings.user_events_topic, decode=False)
    assert {(r.key, r.partition) for r in forwarded} == {(b"hal", partition_for(b"hal", 4))}, "re-keyed by ingest"
