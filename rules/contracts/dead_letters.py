"""The dead-letter topic: a rejected record's original bytes, the reason, and where it came from.

Keyed by the rejected record's key. Nothing is lost: `value_base64` holds the exact original
bytes, so a fixed record can be replayed onto its source topic.

Compatibility: additive changes only within a `version`; consumers ignore unknown fields;
a breaking change bumps `version` and needs a new topic or a dual-read period
(docs/contracts.md).
"""

from __future__ import annotations

import base64
from datetime import datetime

from pydantic import AwareDatetime, BaseModel, Field

from nudgeflow.rules.contracts.versioning import SchemaVersion

VERSION = 1


class DeadLetter(BaseModel):
    """One rejected record. `value_base64` holds the exact original bytes, so nothing is lost."""

    version: SchemaVersion = VERSION
    reason: str
    error_type: str = Field(description="empty | not_json | schema | missing_user_id | bad_timestamp")
    source_topic: str
    source_partition: int
    source_offset: int
    key_base64: str | None
    value_base64: str
    value_preview: str = Field(description="First 200 characters of the value, for humans.")
    rejected_at: AwareDatetime

    @classmethod
    def of(
        cls,
        *,
        reason: str,
        error_type: str,
        topic: str,
        partition: int,
        offset: int,
        key: bytes | None,
        value: bytes | None,
        rejected_at: datetime,
    ) -> DeadLetter:
        raw = value or b""
        return cls(
            reason=reason,
            error_type=error_type,
            source_topic=topic,
            source_partition=partition,
            source_offset=offset,
            key_base64=base64.b64encode(key).decode() if key is not None else None,
            value_base64=base64.b64encode(raw).decode(),
            value_preview=raw[:200].decode("utf-8", errors="replace"),
            rejected_at=rejected_at,
        )

    def original_value(self) -> bytes:
        return base64.b64decode(self.value_base64)
