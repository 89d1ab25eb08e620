"""HTTP facts shared by the adapters: which statuses are worth retrying, and when.

Kept apart from the adapters so the SendGrid (urllib) and Slack (aiohttp)
paths classify errors the same way.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any

from nudgeflow.channels.base import SendStatus

RETRYABLE_STATUSES = frozenset({408, 425, 429})
_EPOCH_THRESHOLD = 1_000_000_000  # larger X-RateLimit-Reset values are epoch seconds, smaller are deltas


def status_outcome(status_code: int) -> SendStatus:
    """Map an HTTP status to a send status: 2xx sent, 408/425/429/5xx retry, other 4xx failed."""
    if 200 <= status_code < 300:
        return "sent"
    if status_code in RETRYABLE_STATUSES or status_code >= 500:
        return "retry"
    return "failed"


def header(headers: Mapping[str, Any] | Any, name: str) -> str | None:
    """Case-insensitive header read that works for dicts, `email.message.Message` and multidicts."""
    if headers is None:
        return None
    value = headers.get(name)
    if value is None and hasattr(headers, "items"):
        lowered = name.lower()
        for key, candidate in headers.items():
            if str(key).lower() == lowered:
                value = candidate
                break
    return None if value is None else str(value)


def parse_retry_after(headers: Mapping[str, Any] | Any, *, now: float | None = None) -> float | None:
    """Seconds to wait, from `Retry-After` (seconds or HTTP date) or `X-RateLimit-Reset`.

    SendGrid sends `X-RateLimit-Reset` as epoch seconds; Slack sends `Retry-After`.
    Returns None when neither header is usable.
    """
    current = time.time() if now is None else now
    raw = header(headers, "Retry-After")
    if raw is not None:
        seconds = _seconds_or_date(raw.strip(), current)
        if seconds is not None:
            return seconds
    raw = header(headers, "X-RateLimit-Reset")
    if raw is not None:
        try:
            value = float(raw.strip())
        except ValueError:
            return None
        return max(0.0, value - current) if value >= _EPOCH_THRESHOLD else max(0.0, value)
    return None


def _seconds_or_date(raw: str, now: float) -> float | None:
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)
