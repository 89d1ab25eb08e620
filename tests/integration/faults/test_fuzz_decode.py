"""10,000 fuzzed records (3,000 + 5,000 + 2,000) through decode_event: it never raises, and
every invalid record is Rejected.

Valid-by-construction events must decode; events broken on purpose (each in one known way)
must be Rejected; arbitrary bytes and arbitrary JSON may go either way but never raise.
"""

from __future__ import annotations

import json
import string
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nudgeflow.orchestrator.ingest.decode import Rejected, decode_event
from nudgeflow.rules.contracts.events import IdentifyEvent, TrackEvent

pytestmark = pytest.mark.timeout(180)  # thousands of examples; slow on a loaded 2-core CI machine
FUZZ = settings(deadline=None, suppress_health_check=list(HealthCheck), database=None, derandomize=True)

names = st.text(alphabet=string.ascii_letters + string.digits + " _-.:é🎉", min_size=1, max_size=30)
json_scalars = (
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=8,
)
zones = st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))])
timestamps = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=zones)


@st.composite
def valid_events(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["track", "identify", "page"]))
    document: dict[str, Any] = {
        "type": kind,
        "messageId": draw(names),
        "userId": draw(names),
        "timestamp": draw(timestamps).isoformat(),
    }
    if kind == "track":
        document["event"] = draw(names)
        document["properties"] = draw(st.dictionaries(st.text(max_size=10), json_values, max_size=5))
    elif kind == "page":  # read as the track event Page Viewed
        document["name"] = draw(names)
        document["properties"] = draw(st.dictionaries(st.text(max_size=10), json_values, max_size=5))
    else:
        document["traits"] = draw(st.dictionaries(st.text(max_size=10), json_values, max_size=5))
    return document


BREAKS = {
    "drop userId": lambda d: d.pop("userId"),
    "empty userId": lambda d: d.update(userId=""),
    "userId not a string": lambda d: d.update(userId=["ana"]),
    "drop messageId": lambda d: d.pop("messageId"),
    "drop timestamp": lambda d: d.pop("timestamp"),
    "naive timestamp": lambda d: d.update(timestamp=d["timestamp"][:19]),
    "timestamp not a date": lambda d: d.update(timestamp="yesterday"),
    "unknown type": lambda d: d.update(type="alias"),
    "no type": lambda d: d.pop("type"),
    "track without event": lambda d: d.update(type="track", event=None),
    "properties not an object": lambda d: d.update(type="track", event="x", properties=[1, 2]),
}


def test_valid_events_decode_and_broken_ones_are_rejected_by_construction() -> None:
    counted = {"valid": 0, "broken": 0}

    @settings(FUZZ, max_examples=1000)
    @given(valid_events(), st.sampled_from(sorted(BREAKS)))
    def check(document: dict[str, Any], how: str) -> None:
        good = decode_event(json.dumps(document).encode())
        assert isinstance(good, TrackEvent | IdentifyEvent), (document, good)
        assert good.userId == document["userId"] and good.timestamp.tzinfo is not None
        broken = dict(document)
        BREAKS[how](broken)
        rejected = decode_event(json.dumps(broken).encode())
        assert isinstance(rejected, Rejected), (how, broken, rejected)
        assert rejected.reason and rejected.error_type
        counted["valid"] += 1
        counted["broken"] += 1

    check()
    assert counted["valid"] + counted["broken"] >= 2000


def test_arbitrary_bytes_never_raise() -> None:
    seen = {"n": 0}

    @settings(FUZZ, max_examples=5000)
    @given(st.binary(max_size=300) | st.none())
    def check(raw: bytes | None) -> None:
        seen["n"] += 1
        result = decode_event(raw)
        assert isinstance(result, Rejected | TrackEvent | IdentifyEvent)
        if not isinstance(result, Rejected):
            assert result.userId and result.timestamp.tzinfo is not None

    check()
    assert seen["n"] >= 5000


def test_arbitrary_json_and_mutated_events_never_raise() -> None:
    seen = {"n": 0}

    @settings(FUZZ, max_examples=2000)
    @given(
        json_values
        | valid_events().flatmap(
            lambda d: st.dictionaries(
                st.sampled_from(sorted(d) + ["event", "traits", "context", "properties"]), json_values, max_size=3
            ).map(lambda extra: {**d, **extra})
        )
    )
    def check(document: Any) -> None:
        seen["n"] += 1
        try:
            raw = json.dumps(document).encode()
        except ValueError:
            return
        result = decode_event(raw)
        if isinstance(result, Rejected):
            assert result.reason and result.error_type
        else:
            assert isinstance(result, TrackEvent | IdentifyEvent)
            assert result.userId and result.timestamp.tzinfo is not None

    check()
    assert seen["n"] >= 2000
