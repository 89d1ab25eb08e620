"""Decode one raw record into a product event, or a reason why it cannot be one.

Never raises for bad input: the worker must not crash and the partition must not
stall on a malformed record.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from pydantic import ValidationError

from nudgeflow.rules.contracts.events import IdentifyEvent, TrackEvent, parse_product_event


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


def decode_event(raw: bytes | None) -> TrackEvent | IdentifyEvent | Rejected:
    """Parse and validate; the Segment `type` picks the model (track or identify)."""
    if raw is None or not raw.strip():
        return Rejected(reason="empty record value", error_type="empty")
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return Rejected(reason=f"not valid JSON: {exc}", error_type="not_json")
    if not isinstance(document, dict):
        return Rejected(reason=f"expected a JSON object, got {type(document).__name__}", error_type="schema")
    if document.get("type") not in ("track", "identify"):
        return Rejected(
            reason=f"type: must be 'track' or 'identify', got {document.get('type')!r}", error_type="schema"
        )
    if not document.get("userId"):
        return Rejected(
            reason="userId: missing or empty (anonymous events are not processed)", error_type="missing_user_id"
        )
    try:
        return parse_product_event(raw)
    except ValidationError as exc:
        return _describe(exc)
