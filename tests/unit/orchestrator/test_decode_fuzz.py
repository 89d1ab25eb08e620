"""Hostile records through decode and the dead letter, thousands at a time: any bytes, values of
several megabytes, nesting tens of thousands deep, interleaved with valid events.

For every record: decode never raises; a valid event decodes; anything else is Rejected and its
dead letter fits in one produce request (Faust's 1,000,000-byte default) while naming the full
record by size, sha256 and source offset. On the old code deep nesting raised RecursionError and
a 0.75 MB record made a dead letter too large to produce.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nudgeflow.orchestrator.ingest.decode import DEFAULT_MAX_BYTES, DEFAULT_MAX_DEPTH, Rejected, decode_event
from nudgeflow.rules.contracts.dead_letters import EXCERPT_BYTES, DeadLetter
from nudgeflow.rules.contracts.events import IdentifyEvent, TrackEvent
from tests.support.hostile import event, nested, records, valid_records

PRODUCER_MAX_REQUEST = 1_000_000  # Faust's producer_max_request_size default; one record must fit with room
FUZZ = settings(deadline=None, suppress_health_check=list(HealthCheck), database=None, derandomize=True)
NOW = datetime(2026, 11, 1, tzinfo=UTC)


def check_dead_letter(raw: bytes | None, rejected: Rejected, offset: int) -> None:
    letter = DeadLetter.of(
        reason=rejected.reason,
        error_type=rejected.error_type,
        topic="events",
        partition=3,
        offset=offset,
        key=b"user-key",
        value=raw,
        rejected_at=NOW,
        max_bytes=DEFAULT_MAX_BYTES,
    )
    wire = letter.model_dump_json().encode()
    assert len(wire) < PRODUCER_MAX_REQUEST - 10_000, (len(raw or b""), len(wire))
    back = DeadLetter.model_validate_json(wire)
    whole = raw or b""
    assert (back.source_topic, back.source_partition, back.source_offset) == ("events", 3, offset)
    assert back.value_size == len(whole) and back.value_sha256 == hashlib.sha256(whole).hexdigest()
    if back.value_truncated:
        assert len(whole) > DEFAULT_MAX_BYTES and back.original_value() == whole[:EXCERPT_BYTES]
    else:
        assert back.original_value() == whole


def test_thousands_of_hostile_records_never_raise_and_every_dead_letter_fits() -> None:
    seen: dict[str, int] = {"valid": 0, "rejected": 0, "large": 0, "deep": 0}

    @settings(FUZZ, max_examples=3000)
    @given(st.lists(records(), min_size=1, max_size=3), valid_records)
    def check(batch: list[bytes | None], valid: bytes) -> None:
        for offset, raw in enumerate([*batch, valid]):  # a valid event after the hostile ones still decodes
            result = decode_event(raw)
            if isinstance(result, Rejected):
                assert result.reason and result.error_type
                seen["rejected"] += 1
                seen["large"] += result.error_type == "too_large"
                seen["deep"] += result.error_type == "too_deep"
                check_dead_letter(raw, result, offset)
            else:
                assert isinstance(result, TrackEvent | IdentifyEvent)
                seen["valid"] += 1
        assert isinstance(decode_event(valid), TrackEvent)

    check()
    assert seen["valid"] >= 3000 and seen["rejected"] >= 2000, seen
    assert seen["large"] >= 300 and seen["deep"] >= 300, seen


@pytest.mark.parametrize("opener", ["[", '{"a":'])
@pytest.mark.parametrize("depth", [DEFAULT_MAX_DEPTH + 1, 2_000, 40_000])
def test_deep_nesting_is_rejected_not_raised(opener: str, depth: int) -> None:
    raw = json.dumps(event("u", 1, "@")).replace('"@"', nested(depth, opener)).encode()
    result = decode_event(raw)
    assert isinstance(result, Rejected) and result.error_type == "too_deep"
    assert str(DEFAULT_MAX_DEPTH) in result.reason


def test_nesting_up_to_the_limit_is_accepted() -> None:
    properties = json.loads(nested(DEFAULT_MAX_DEPTH - 1, '{"a":'))  # the event object is one level more
    assert isinstance(decode_event(json.dumps(event("u", 1, properties)).encode()), TrackEvent)


def test_limits_are_settings() -> None:
    raw = json.dumps(event("u", 1, {"a": {"b": {"c": "x" * 3000}}})).encode()
    assert isinstance(decode_event(raw), TrackEvent)
    assert decode_event(raw, max_bytes=2048) == Rejected(
        reason=f"record is {len(raw):,} bytes; the limit is 2,048", error_type="too_large"
    )
    assert decode_event(raw, max_depth=3).error_type == "too_deep"  # type: ignore[union-attr]


def test_a_record_of_three_megabytes_is_dead_lettered_with_excerpt_size_and_hash() -> None:
    raw = json.dumps(event("u", 1, {"blob": "x" * (3 * 1024 * 1024)})).encode()
    rejected = decode_event(raw)
    assert isinstance(rejected, Rejected) and rejected.error_type == "too_large"
    letter = DeadLetter.of(
        reason=rejected.reason,
        error_type=rejected.error_type,
        topic="events",
        partition=1,
        offset=42,
        key=b"k" * 100_000,
        value=raw,
        rejected_at=NOW,
        max_bytes=DEFAULT_MAX_BYTES,
    )
    wire = json.loads(letter.model_dump_json())
    assert len(letter.model_dump_json()) < 20_000
    assert wire["value_size"] == len(raw) and wire["value_truncated"] is True
    assert wire["value_sha256"] == hashlib.sha256(raw).hexdigest()
    assert base64.b64decode(wire["value_base64"]) == raw[:EXCERPT_BYTES]
    assert wire["key_truncated"] is True and letter.kafka_key() == b"k" * EXCERPT_BYTES
    assert (wire["source_topic"], wire["source_partition"], wire["source_offset"]) == ("events", 1, 42)


def test_nan_and_infinity_as_pythons_json_writes_them_are_accepted() -> None:
    raw = json.dumps(event("u", 1, {"ratio": float("nan"), "limit": float("inf")})).encode()
    assert b"NaN" in raw and isinstance(decode_event(raw), TrackEvent)
    broken = decode_event(b'{"type": "track", NaN}')
    assert isinstance(broken, Rejected) and broken.error_type == "not_json" and "not valid JSON" in broken.reason
