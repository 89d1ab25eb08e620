"""The dead-letter topic: a rejected record's original bytes, the reason, and where it came from.

Keyed by the rejected record's key. Nothing is lost: `value_base64` holds the exact original
bytes, so a fixed record can be replayed onto its source topic.

Compatibility: additive changes only within a `version`; consumers ignore unknown fields;
a breaking change bumps `version` and needs a new topic or a dual-read period
(docs/contracts.md).
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime

from pydantic import AwareDatetime, BaseModel, Field

from nudgeflow.rules.contracts.versioning import SchemaVersion

VERSION = 1
EXCERPT_BYTES = 4096  # what an oversized value (or key) keeps in its dead letter
MAX_REASON_CHARS = 2000


def _excerpt(raw: bytes, limit: int) -> bytes:
    return raw if len(raw) <= limit else raw[:EXCERPT_BYTES]


class DeadLetter(BaseModel):
    """One rejected record. `value_base64` holds the exact original bytes, so nothing is lost."""

    version: SchemaVersion = VERSION
    reason: str
    error_type: str = Field(
        description="empty | not_json | schema | missing_user_id | bad_timestamp | too_large | too_deep"
        " | decode_error | processing_error | timer_error"
    )
    source_topic: str
    source_partition: int
    source_offset: int
    key_base64: str | None
    value_base64: str
    value_preview: str = Field(description="First 200 characters of the value, for humans.")
    rejected_at: AwareDatetime
    # Over the size limit, value_base64 holds only an excerpt; the full record stays at its source offset.
    value_size: int = Field(default=0, description="Size of the original value in bytes.")
    value_sha256: str = Field(default="", description="sha256 (hex) of the original value, whole.")
    value_truncated: bool = Field(default=False, description="value_base64 holds only the first 4 KiB of it.")
    key_truncated: bool = Field(default=False, description="key_base64 holds only the first 4 KiB of the key.")

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
        max_bytes: int,
    ) -> DeadLetter:
        """Values up to `max_bytes` and keys up to 4 KiB are kept whole, larger ones as an excerpt,
        so a dead letter always fits in one produce request."""
        raw = value or b""
        kept_value = _excerpt(raw, max_bytes)
        kept_key = _excerpt(key, EXCERPT_BYTES) if key is not None else None
        return cls(
            reason=reason[:MAX_REASON_CHARS],
            error_type=error_type,
            source_topic=topic,
            source_partition=partition,
            source_offset=offset,
            key_base64=base64.b64encode(kept_key).decode() if kept_key is not None else None,
            value_base64=base64.b64encode(kept_value).decode(),
            value_preview=raw[:200].decode("utf-8", errors="replace"),
            rejected_at=rejected_at,
            value_size=len(raw),
            value_sha256=hashlib.sha256(raw).hexdigest(),
            value_truncated=len(kept_value) < len(raw),
            key_truncated=kept_key is not None and key is not None and len(kept_key) < len(key),
        )

    def original_value(self) -> bytes:
        """The original bytes; only the excerpt when `value_truncated` (read the source offset for the rest)."""
        return base64.b64decode(self.value_base64)

    def kafka_key(self) -> bytes | None:
        """The key the dead letter is produced with: the source key, or its excerpt when it was oversized."""
        return base64.b64decode(self.key_base64) if self.key_base64 is not None else None
