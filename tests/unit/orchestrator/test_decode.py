"""What a platform engineer is told about each kind of bad record."""

from __future__ import annotations

import json

import pytest

from nudgeflow.orchestrator.ingest.decode import Rejected, decode_event
from nudgeflow.rules.contracts.events import IdentifyEvent, TrackEvent

GOOD = {
    "type": "track",
    "messageId": "m",
    "userId": "u",
    "event": "Report Created",
    "timestamp": "2026-03-29T01:30:00+01:00",
    "properties": {"n": 3},
    "context": {"timezone": "Europe/Paris"},
}


def encoded(**changes: object) -> bytes:
    document = {**GOOD, **changes}
    return json.dumps({k: v for k, v in document.items() if v is not None}).encode()


def test_valid_track_and_identify_are_decoded() -> None:
    event = decode_event(encoded())
    assert isinstance(event, TrackEvent) and event.properties == {"n": 3}
    assert event.context.timezone == "Europe/Paris"
    identify = decode_event(encoded(type="identify", event=None, properties=None, traits={"role": "admin"}))
    assert isinstance(identify, IdentifyEvent) and identify.traits == {"role": "admin"}


@pytest.mark.parametrize(
    ("raw", "error_type", "words"),
    [
        (b"", "empty", "empty"),
        (b"\xff\xfe", "not_json", "JSON"),
        (b"[1, 2]", "schema", "JSON object"),
        (encoded(type="merge"), "schema", "track, identify, page, screen, group, alias"),
        (encoded(userId=None), "missing_user_id", "userId"),
        (encoded(userId=""), "missing_user_id", "userId"),
        (encoded(timestamp="2026-13-01T00:00:00Z"), "bad_timestamp", "timestamp"),
        (encoded(timestamp="2026-01-01T00:00:00"), "bad_timestamp", "timezone"),
        (encoded(event=None), "schema", "event"),
        (encoded(context={"timezone": "Mars/Olympus"}), "schema", "Mars/Olympus"),
    ],
)
def test_bad_records_are_rejected_with_a_reason(raw: bytes, error_type: str, words: str) -> None:
    result = decode_event(raw)
    assert isinstance(result, Rejected)
    assert result.error_type == error_type
    assert words in result.reason
