"""What analytics reads from the topics, parsed leniently.

Outcome kinds are plain strings here (not `OutcomeKind`) so records of kinds added
after this code was written, such as `exposure`, are kept instead of rejected.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError

from nudgeflow.rules.contracts.events import IdentifyEvent, TrackEvent, parse_product_event
from nudgeflow.rules.contracts.outcomes import Outcome

log = logging.getLogger(__name__)
EXPOSURE = "exposure"
ProductEvent = TrackEvent | IdentifyEvent


class OutcomeRecord(Outcome):
    """One record of the outcomes topic: an `nudgeflow.rules.contracts.outcomes.Outcome` read leniently (kind as text,
    unknown fields ignored, `recorded_at` optional)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    kind: str  # type: ignore[assignment]
    recorded_at: AwareDatetime | None = None  # type: ignore[assignment]

    @classmethod
    def coerce(cls, value: Any) -> OutcomeRecord:
        """Accept an `Outcome`, an `OutcomeRecord`, a dict or JSON text."""
        if isinstance(value, OutcomeRecord):
            return value
        if isinstance(value, BaseModel):
            value = value.model_dump(mode="json")
        if isinstance(value, bytes | str):
            return cls.model_validate_json(value)
        return cls.model_validate(value)


def coerce_event(value: Any) -> ProductEvent:
    """Accept a parsed event, a dict or JSON text."""
    if isinstance(value, TrackEvent | IdentifyEvent):
        return value
    if isinstance(value, dict):
        value = json.dumps(value)
    return parse_product_event(value)


def parse_outcome(raw: bytes | None) -> OutcomeRecord | None:
    """None (and a log line) for a record analytics cannot read; the stream goes on."""
    if raw is None:
        return None
    try:
        return OutcomeRecord.model_validate_json(raw)
    except ValidationError as exc:
        log.warning("skipping unreadable outcome: %s", exc.errors()[0].get("msg"))
        return None


def parse_event(raw: bytes | None) -> ProductEvent | None:
    """Invalid events were already dead-lettered by the worker; analytics skips them too."""
    if raw is None:
        return None
    try:
        return parse_product_event(raw)
    except ValidationError:
        return None
