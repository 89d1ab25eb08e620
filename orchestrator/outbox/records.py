"""What the outbox stores (the `outbox` table) and publishes (the deliveries topic).

Records on the deliveries topic, by `type`:
- `delivery` (a `DeliveryRequest` from the rules): queue a send;
- `delivery_retry`: attempt n failed, the next one is due at `next_attempt_at`;
- `delivery_result`: the delivery is closed (sent, or a final failure with its reason);
  a failed or exhausted result carries its request: it is the delivery's dead letter,
  listed by `nudgeflow deliveries failed` and replayed by `nudgeflow deliveries retry`;
- `delivery_replay`: an operator asked to send a dead-lettered delivery again;
- `resume_marker`: internal, see `agent.py`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel

from nudgeflow.rules.decisions import DeliveryRequest

FinalStatus = Literal["sent", "failed", "exhausted", "suppressed", "expired"]
DEAD_LETTER_STATUSES: frozenset[str] = frozenset({"failed", "exhausted"})


class DeliveryResult(BaseModel):
    """On the deliveries topic after the last attempt: closes the delivery."""

    type: Literal["delivery_result"] = "delivery_result"
    delivery_id: str
    user_id: str
    status: FinalStatus
    attempts: int
    reason: str | None = None
    finished_at: AwareDatetime | None = None
    request: DeliveryRequest | None = None  # on dead letters, so they can be listed and replayed

    @property
    def dead_letter(self) -> bool:
        return self.status in DEAD_LETTER_STATUSES


class RetryScheduled(BaseModel):
    """On the deliveries topic after a failed attempt: the durable due time of the next one."""

    type: Literal["delivery_retry"] = "delivery_retry"
    delivery_id: str
    user_id: str
    attempts: int
    next_attempt_at: AwareDatetime
    reason: str | None = None


class ReplayRequest(BaseModel):
    """On the deliveries topic (keyed by user): send a dead-lettered delivery again."""

    type: Literal["delivery_replay"] = "delivery_replay"
    delivery_id: str
    user_id: str


class OutboxEntry(BaseModel):
    """The outbox table's value: in flight (with what it takes to resume) or final."""

    status: Literal["in_flight"] | FinalStatus
    partition: int
    request: DeliveryRequest | None = None
    attempts: int = 0
    queued_at: AwareDatetime | None = None
    next_attempt_at: AwareDatetime | None = None
    finished_at: AwareDatetime | None = None
    reason: str | None = None
    replayed: bool = False  # an operator's replay: the expiry policy no longer applies

    @property
    def final(self) -> bool:
        return self.status != "in_flight"
