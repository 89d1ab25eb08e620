"""Decode one raw record into a product event, or a reason why it cannot be one.

Never raises for bad input: the worker must not crash and the partition must not
stall on a malformed record. Two limits keep hostile records cheap: the size is
checked before anything is parsed (a multi-megabyte value is a mistake, and
parsing it costs memory), the nesting depth while parsing (deep nesting makes
Python's `json` raise RecursionError, and pydantic stops at its own limit).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from pydantic import ValidationError

from nudgeflow.rules.contracts.events import SEGMENT_TYPES, IdentifyEvent, TrackEvent, parse_product_event

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


def decode_event(
    raw: bytes | None, *, max_bytes: int = DEFAULT_MAX_BYTES, max_depth: int = DEFAULT_MAX_DEPTH
) -> TrackEvent | IdentifyEvent | Rejected:
    """Parse and validate; the Segment `type` picks the model (track or identify).
    Any failure, including an unexpected one, is a Rejected (dead-lettered), never an exception."""
    try:
        return _decode(raw, max_bytes=max_bytes, max_depth=max_depth)
    except Exception as exc:  # RecursionError, MemoryError-free surprises: park the record, never crash
        return Rejected(reason=f"could not decode: {type(exc).__name__}: {str(exc)[:200]}", error_type="decode_error")


def _decode(raw: bytes | None, *, max_bytes: int, max_depth: int) -> TrackEvent | IdentifyEvent | Rejected:
    if raw is None or not raw.strip():
        return Rejected(reason="empty record value", error_type="empty")
    if len(raw) > max_bytes:
        return Rejected(reason=f"record is {len(raw):,} bytes; the limit is {max_bytes:,}", error_type="too_large")
    too_deep = Rejected(reason=f"JSON nests deeper than {max_depth} levels", error_type="too_deep")
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return Rejected(reason=f"not valid JSON: {exc}", error_type="not_json")
    except RecursionError:  # json's C parser recurses per level; it stops itself near the recursion limit
        return too_deep
    if nesting_depth(document, max_depth) > max_depth:
        return too_deep
    if not isinstance(document, dict):
        return Rejected(reason=f"expected a JSON object, got {type(document).__name__}", error_type="schema")
    if document.get("type") not in SEGMENT_TYPES:
        return Rejected(
            reason=f"type: must be one of {', '.join(SEGMENT_TYPES)}, got {str(document.get('type'))[:80]!r}",
            error_type="schema",
        )
    if not document.get("userId"):
        return Rejected(
            reason="userId: missing or empty (anonymous events are not processed)", error_type="missing_user_id"
        )
    try:
        return parse_product_event(raw)
    except ValidationError as exc:
        return _describe(exc)
