"""Hypothesis strategies for hostile event records: any bytes, megabytes, deep nesting, valid events.

Shared by the unit fuzz test (thousands of records through decode and the dead letter) and the live
one (a few hundred through a worker on the real broker)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

from nudgeflow.orchestrator.ingest.decode import DEFAULT_MAX_BYTES, DEFAULT_MAX_DEPTH


def event(user: str, n: int, properties: Any = None, message_id: str | None = None) -> dict[str, Any]:
    return {
        "type": "track",
        "messageId": message_id or f"m-{n}",
        "userId": user,
        "event": "Report Created",
        "timestamp": "2026-11-01T10:00:00+00:00",
        "properties": {"n": n} if properties is None else properties,
    }


def nested(depth: int, opener: str) -> str:
    closer = {"[": "]", '{"a":': "}"}[opener]
    return opener * depth + "1" + closer * depth


valid_records = st.builds(
    lambda user, n: json.dumps(event(user, n)).encode(), st.text(min_size=1, max_size=20), st.integers(0, 10**6)
)
any_bytes = st.binary(max_size=2000)


def large_records(max_size: int = 5 * 1024 * 1024) -> st.SearchStrategy[bytes]:
    """A random head (sometimes a valid event's start) padded with one byte value to just under the
    size limit up to `max_size`."""
    return st.builds(
        lambda head, fill, size: (head + bytes([fill]) * size)[: size + len(head)],
        st.sampled_from([b"", b'{"type": "track", "userId": "u", "event": "x", "properties": {"blob": "', b"\xff"]),
        st.integers(0, 255),
        st.integers(DEFAULT_MAX_BYTES - 16, max_size),
    )


deep_records = st.builds(
    lambda depth, opener, wrap, closed: (
        (json.dumps(event("u", 1, "@")).replace('"@"', nested(depth, opener)) if wrap else nested(depth, opener))
        if closed
        else opener * depth
    ).encode(),
    st.integers(DEFAULT_MAX_DEPTH + 1, 60_000),
    st.sampled_from(["[", '{"a":']),
    st.booleans(),
    st.booleans(),
)


def records(max_size: int = 5 * 1024 * 1024) -> st.SearchStrategy[bytes | None]:
    return st.one_of(valid_records, any_bytes, large_records(max_size), deep_records, st.none())
