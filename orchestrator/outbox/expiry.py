"""Per-message expiry: a message whose moment has passed is dropped with a reason, not sent stale.

A celebration two days after the milestone, or a nudge about a stall the user may long have
fixed, does more harm than good; the age counts from the request's `send_at`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from nudgeflow.rules.contracts.deliveries import DeliveryRequest


@dataclass(frozen=True)
class ExpiryPolicy:
    """`max_age` in seconds per delivery kind; a kind not listed never expires."""

    max_age: Mapping[str, float] = field(default_factory=dict)

    def expires_at(self, request: DeliveryRequest) -> datetime | None:
        seconds = self.max_age.get(request.kind)
        return None if seconds is None else request.send_at + timedelta(seconds=seconds)

    def reason(self, request: DeliveryRequest, now: datetime) -> str | None:
        """Why `request` must not be sent at `now`, or None while it is still timely."""
        expires = self.expires_at(request)
        if expires is None or now < expires:
            return None
        age_hours = (now - request.send_at).total_seconds() / 3600
        limit_hours = self.max_age[request.kind] / 3600
        return f"{request.kind} is {age_hours:.1f} h old, past its max age of {limit_hours:.1f} h"
