"""What the outbox stores and publishes."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from nudgeflow.rules.decisions import DeliveryRequest

FinalStatus = Literal["sent", "failed", "exhausted", "suppressed"]


class DeliveryResult(BaseModel):
    """On the deliveries topic after the last attempt: closes the delivery."""

    type: Literal["delivery_result"] = "delivery_result"
    delivery_id: str
    user_id: str
    status: FinalStatus
    attempts: int
    reason: str | None = None


class OutboxEntry(BaseModel):
    """The outbox table's value: in flight (with the request, to resume) or final."""

    status: Literal["in_flight"] | FinalStatus
    partition: int
    request: DeliveryRequest | None = None

    @property
    def final(self) -> bool:
        return self.status != "in_flight"
