"""Decode one raw record into a product event, or a reason why it cannot be one.

Never raises for bad input: the worker must not crash and the partition must not
stall on a malformed record. Two limits keep hostile records cheap: the size is
checked before anything is parsed (a multi-megabyte value is a mistake, and
parsing it costs memory), the nesting depth before validating (pydantic stops at
its own limit, with a less helpful error).

Two steps, so the ingest pre-filter pays little for noise: `read_call` parses the JSON
(orjson, ~1 µs for a typical event), checks its depth (walked only when the record holds
more brackets than the limit) and names the call; only a call some rule reads goes on to
`validate_call`, the full pydantic validation (~5 µs).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import ValidationError

from nudgeflow.rules.contracts.events import (
    PAGE_VIEWED,
    SCREEN_VIEWED,
    SEGMENT_TYPES,
    AliasEvent,
    IdentifyEvent,
    TrackEvent,
    parse_product_event,
)

DEFAULT_MAX_BYTES = 256 * 1024
DEFAULT_MAX_DEPTH = 32


@dataclass(frozen=True, slots=True)
class Rejected:
    """Why a record is not a valid product event, in words a platform engineer can act on."""

    reason: str
    error_type: str


def _describe(error: ValidationError) -> Rejected:
    problems = []
    for item in error.errors(include_url=False):
        path = [str(part) for part in item["loc"] if not isinstance(part, int)]
        if path and path[0] in ("track", "identify"):
            path = path[1:]  # the union branch name is noise to the reader
        problems.append(f"{'.'.join(path) or '(root)'}: {item['msg']}")
    error_type = "bad_timestamp" if any(p.startswith("timestamp:") for p in problems) else "schema"
    return Rejected(reason="; ".join(problems), error_type=error_type)


def nesting_depth(document: object, limit: int) -> int:
    """How deep arrays/objects nest, counted without recursion and only up to `limit` + 1."""
    deepest = 0
    pending: list[tuple[object, int]] = [(document, 0)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict | list):
            depth += 1
            deepest = max(deepest, depth)
            if deepest > limit:
                break
            pending.extend((child, depth) for child in (value.values() if isinstance(value, dict) else value))
    return deepest


@dataclass(frozen=True, slots=True)
class SegmentCall:
    """A record that parsed as a Segment call of a known type with a user, not yet validated.
    `name` is the track event it is read as (`Page Viewed` for a page call); None for identify."""

    raw: bytes
    document: dict[str, Any]
    name: str | None


_CALL_NAMES = {"page": PAGE_VIEWED, "screen": SCREEN_VIEWED}


def decode_event(
    raw: bytes | None, *, max_bytes: int = DEFAULT_MAX_BYTES, max_depth: int = DEFAULT_MAX_DEPTH
) -> TrackEvent | IdentifyEvent | AliasEvent | Rejected:
    """Parse and validate; the Segment `type` picks the model (track, identify, page, screen, group, alias).
    Any failure, including an unexpected one, is a Rejected (dead-lettered), never an exception."""
    call = read_call(raw, max_bytes=max_bytes, max_depth=max_depth)
    return call if isinstance(call, Rejected) else validate_call(call)


def read_call(
    raw: bytes | None, *, max_bytes: int = DEFAULT_MAX_BYTES, max_depth: int = DEFAULT_MAX_DEPTH
) -> SegmentCall | Rejected:
    """The cheap first step: size, JSON, depth, a known `type` and a `userId`. Never raises."""
    try:
        return _read(raw, max_bytes=max_bytes, max_depth=max_depth)
    except Exception as exc:  # surprises: park the record, never crash
        return Rejected(reason=f"could not decode: {type(exc).__name__}: {str(exc)[:200]}", error_type="decode_error")


def validate_call(call: SegmentCall) -> TrackEvent | IdentifyEvent | AliasEvent | Rejected:
    """The full check of a call `read_call` accepted: the contract. Never raises."""
    try:
        return parse_product_event(call.raw)
    except ValidationError as exc:
        return _describe(exc)
    except Exception as exc:  # RecursionError and other surprises: park the record, never crash
        return Rejected(reason=f"could not decode: {type(exc).__name__}: {str(exc)[:200]}", error_type="decode_error")


def _too_deep(max_depth: int) -> Rejected:
    return Rejected(reason=f"JSON nests deeper than {max_depth} levels", error_type="too_deep")


def _read(raw: bytes | None, *, max_bytes: int, max_depth: int) -> SegmentCall | Rejected:
    if raw is None or not raw.strip():
        return Rejected(reason="empty record value", error_type="empty")
    if len(raw) > max_bytes:
        return Rejected(reason=f"record is {len(raw):,} bytes; the limit is {max_bytes:,}", error_type="too_large")
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if "depth limit" in str(exc):  # orjson stops at 1,024 levels
            return _too_deep(max_depth)
        try:  # NaN and Infinity are not JSON, but Python's json.dumps writes them and the contract accepts them
            document = json.loads(raw)
        except (ValueError, RecursionError):
            return Rejected(reason=f"not valid JSON: {exc}", error_type="not_json")
    opened = raw.count(b"{") + raw.count(b"[")  # an upper bound of the depth, in C: most records stop here
    if opened > max_depth and nesting_depth(document, max_depth) > max_depth:
        return _too_deep(max_depth)
    if not isinstance(document, dict):
        return Rejected(reason=f"expected a JSON object, got {type(document).__name__}", error_type="schema")
    kind = document.get("type")
    if kind not in SEGMENT_TYPES:
        return Rejected(
            reason=f"type: must be one of {', '.join(SEGMENT_TYPES)}, got {str(kind)[:80]!r}",
            error_type="schema",
        )
    if not document.get("userId"):
        return Rejected(
            reason="userId: missing or empty (anonymous events are not processed)", error_type="missing_user_id"
        )
    name = document.get("event") if kind == "track" else _CALL_NAMES.get(kind)
    return SegmentCall(raw=bytes(raw), document=document, name=name if isinstance(name, str) else None)
