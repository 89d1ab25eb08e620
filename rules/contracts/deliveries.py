"""The deliveries topic: email/Slack messages for the channel outboxes, and how each one ended.

Keyed by user id. Kinds, told apart by `type`:
- `delivery` (a `DeliveryRequest`, published by the worker when a message is due): queue a send;
- `delivery_retry`: attempt n failed, the next one is due at `next_attempt_at`;
- `delivery_result`: the delivery is closed (sent, or a final failure with its reason);
  a failed or exhausted result carries its request: it is the delivery's dead letter,
  listed by `nudgeflow deliveries failed` and replayed by `nudgeflow deliveries retry`;
- `delivery_replay`: an operator asked to send a dead-lettered delivery again;
- `resume_marker`: the outbox's own bookmark after a rebalance.
`OutboxEntry` is the value of the outbox table (its changelog topic), keyed by delivery id.
`delivery_id` is the idempotency key of one logical message.

Compatibility: additive changes only within a `version`; consumers ignore unknown fields;
a breaking change bumps `version` and needs a new topic or a dual-read period
(docs/contracts.md).
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, Field, TypeAdapter

from nudgeflow.rules.contracts.versioning import SchemaVersion

VERSION = 1
Channel = Literal["in_app", "email", "slack"]
DeliveryKind = Literal["celebration", "nudge", "welcome"]
FinalStatus = Literal["sent", "failed", "exhausted", "suppressed", "expired"]
DEAD_LETTER_STATUSES: frozenset[str] = frozenset({"failed", "exhausted"})


def delivery_id_for(
    *,
    user_id: str,
    playbook_id: str,
    playbook_version: str,
    milestone_id: str,
    kind: DeliveryKind,
    step: int,
    channel: str,
) -> str:
    """Stable id for one logical message on one channel."""
    raw = "\x1f".join([user_id, playbook_id, playbook_version, milestone_id, kind, str(step), channel])
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


class DeliveryIdentity(BaseModel):
    """What names one logical message: shared by a delivery and its suppression."""

    delivery_id: str
    kind: DeliveryKind
    channel: Channel
    user_id: str
    playbook_id: str
    playbook_version: str
    milestone_id: str
    step: int = 0

    def identity(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in DeliveryIdentity.model_fields}


class RenderedLink(BaseModel):
    """A rendered call to action or link: an absolute http(s) URL, checked when it was rendered."""

    label: str
    url: str


class RenderedImage(BaseModel):
    url: str
    alt: str


class RenderedSurvey(BaseModel):
    """A one-question micro-survey shown with an in-app message: a rating from 1 to `scale`."""

    question: str
    scale: int = Field(ge=2, le=10)
    comment: bool = Field(description="Offer an optional free-text comment with the rating.")


class MessageMedia(BaseModel):
    """A message's calls to action, links, image and survey, rendered (added in version 1: optional, additive)."""

    cta: RenderedLink | None = None
    secondary_cta: RenderedLink | None = None
    links: list[RenderedLink] = Field(default_factory=list)
    image: RenderedImage | None = None
    survey: RenderedSurvey | None = None

    def media(self) -> dict[str, Any]:
        """The media fields alone, to copy onto another record."""
        return {name: getattr(self, name) for name in MessageMedia.model_fields}

    def link_at(self, ref: str) -> RenderedLink | None:
        """The link a click names: `cta`, `secondary_cta` or `links.N`."""
        if ref in ("cta", "secondary_cta"):
            link: RenderedLink | None = getattr(self, ref)
            return link
        index = ref.removeprefix("links.")
        if index.isdigit() and int(index) < len(self.links):
            return self.links[int(index)]
        return None


class DeliveryRequest(MessageMedia, DeliveryIdentity):
    """One message to send on one channel, at or after `send_at`."""

    type: Literal["delivery"] = "delivery"
    version: SchemaVersion = VERSION
    title: str
    body: str
    send_at: AwareDatetime
    data: dict[str, Any] = Field(default_factory=dict, description="Extra fields for the channel (traits...).")

    @property
    def to_the_user(self) -> bool:
        """Addressed to the user themself (`data.to` absent or "user"), not to their CSM or a team channel:
        only then do the user's preferences and daily caps apply."""
        return bool(self.data.get("to", "user") == "user")


class DeliveryResult(BaseModel):
    """On the deliveries topic after the last attempt: closes the delivery."""

    type: Literal["delivery_result"] = "delivery_result"
    version: SchemaVersion = VERSION
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
    """After a failed attempt: the durable due time of the next one."""

    type: Literal["delivery_retry"] = "delivery_retry"
    version: SchemaVersion = VERSION
    delivery_id: str
    user_id: str
    attempts: int
    next_attempt_at: AwareDatetime
    reason: str | None = None


class ReplayRequest(BaseModel):
    """Keyed by user: send a dead-lettered delivery again."""

    type: Literal["delivery_replay"] = "delivery_replay"
    version: SchemaVersion = VERSION
    delivery_id: str
    user_id: str


class ResumeMarker(BaseModel):
    """The outbox's bookmark on each partition it gained: in-flight sends resume when it reads its own token."""

    type: Literal["resume_marker"] = "resume_marker"
    version: SchemaVersion = VERSION
    token: str


class OutboxEntry(BaseModel):
    """The outbox table's value: in flight (with what it takes to resume) or final."""

    version: SchemaVersion = VERSION
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


AnyDeliveryRecord = DeliveryRequest | RetryScheduled | DeliveryResult | ReplayRequest | ResumeMarker
DeliveryRecord = Annotated[AnyDeliveryRecord, Field(discriminator="type")]
delivery_record_adapter: TypeAdapter[AnyDeliveryRecord] = TypeAdapter(DeliveryRecord)


def parse_delivery_record(raw: bytes | str) -> AnyDeliveryRecord:
    """Validate one message of the deliveries topic; raises pydantic.ValidationError."""
    return delivery_record_adapter.validate_json(raw)
