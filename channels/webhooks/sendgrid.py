"""SendGrid Event Webhook: verify the signature, publish each event back, suppress dead addresses.

SendGrid POSTs a JSON array of events (processed, delivered, open, click, bounce, dropped,
deferred, spamreport, unsubscribe, group_unsubscribe, group_resubscribe). With the signed
webhook enabled it signs `timestamp + raw body` with ECDSA P-256/SHA-256 and sends

    X-Twilio-Email-Event-Webhook-Signature: base64(DER signature)
    X-Twilio-Email-Event-Webhook-Timestamp: unix seconds

The verification key shown in SendGrid's settings (base64 DER, or PEM) goes in
`NUDGEFLOW_SENDGRID_WEBHOOK_PUBLIC_KEY`; the sendgrid package's `EventWebhook` helper checks
the signature. A batch signed longer ago (or further ahead) than the replay window
(`NUDGEFLOW_SENDGRID_WEBHOOK_REPLAY_WINDOW`, default 5 minutes) is refused with 403, so a
captured request cannot be replayed later. Our mails carry `delivery_id`, `user_id` and
`kind` as custom_args (channels/sendgrid_mail.py), which SendGrid copies into each event.
An entry that is not a valid event (say an absurd `timestamp`) is skipped and counted in
`rejected`; the rest of the batch is processed.

Each event becomes a Segment track event ("Email Delivered", "Email Opened", ...) on the
events topic keyed by user id, with messageId `sendgrid:<sg_event_id>`, so SendGrid's
retries are de-duplicated by the worker. Hard bounces, spam reports and unsubscribes also
opt the user out of email (`PreferencesService.opt_out_channel`).
"""

from __future__ import annotations

import binascii
import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sendgrid.helpers.eventwebhook import EventWebhook

from nudgeflow.channels.product_events import PublishEvent, track_event

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
MAX_BODY_BYTES = 5 * 1024 * 1024
DEFAULT_REPLAY_WINDOW_SECONDS = 300.0
MAX_EVENT_TIMESTAMP = 253_402_300_799  # 9999-12-31T23:59:59Z, the last second datetime can hold

EVENT_NAMES = {
    "processed": "Email Processed",
    "deferred": "Email Deferred",
    "delivered": "Email Delivered",
    "open": "Email Opened",
    "click": "Email Clicked",
    "bounce": "Email Bounced",
    "dropped": "Email Dropped",
    "spamreport": "Email Marked as Spam",
    "unsubscribe": "Email Unsubscribed",
    "group_unsubscribe": "Email Group Unsubscribed",
    "group_resubscribe": "Email Group Resubscribed",
}
# Properties copied from SendGrid's event when present (the address itself is left out: PII).
COPIED = (
    "delivery_id",
    "kind",
    "sg_event_id",
    "sg_message_id",
    "url",
    "reason",
    "type",
    "status",
    "response",
    "attempt",
    "category",
    "asm_group_id",
    "useragent",
    "bounce_classification",
)

OptOutEmail = Callable[[str, str], Awaitable[object]]


class SendGridSignatureVerifier:
    """Checks SendGrid's ECDSA signature with the sendgrid package's `EventWebhook` helper, and that the
    signature is recent: a signed batch outside `replay_window` seconds of `clock()` is refused."""

    def __init__(
        self,
        public_key: str,
        *,
        replay_window: float = DEFAULT_REPLAY_WINDOW_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._helper = EventWebhook(_base64_key(public_key))
        if not isinstance(self._helper.public_key, ec.EllipticCurvePublicKey):
            raise ValueError("the SendGrid webhook verification key must be an elliptic-curve public key")
        self.replay_window = replay_window
        self._clock = clock

    def verify(self, body: bytes, signature: str | None, timestamp: str | None) -> bool:
        """True when `signature` is SendGrid's over `timestamp + body` (the age is `check`'s job)."""
        if not signature or not timestamp:
            return False
        try:
            return bool(self._helper.verify_signature(body.decode("utf-8"), signature, timestamp))
        except (InvalidSignature, binascii.Error, ValueError):  # UnicodeDecodeError is a ValueError
            return False

    def check(self, body: bytes, signature: str | None, timestamp: str | None) -> str | None:
        """None when the batch is genuine and recent, else why it is refused."""
        if not self.verify(body, signature, timestamp):
            return "invalid signature"
        assert timestamp is not None
        try:
            signed_at = float(timestamp)
        except ValueError:
            return "invalid signature timestamp"
        if not abs(self._clock() - signed_at) <= self.replay_window:  # also refuses nan
            return f"signature timestamp outside the {self.replay_window:g} s replay window"
        return None


def _base64_key(text: str) -> str:
    """The key as `EventWebhook` takes it (base64 of DER SubjectPublicKeyInfo), from that or a PEM block."""
    lines = [line.strip() for line in text.strip().splitlines()]
    return "".join(line for line in lines if line and not line.startswith("-----"))


class SendGridEvent(BaseModel):
    """One entry of the webhook's array; unknown fields (custom_args, ...) are kept."""

    model_config = ConfigDict(extra="allow")

    event: str = Field(max_length=64)
    timestamp: float = Field(ge=0, le=MAX_EVENT_TIMESTAMP, description="Unix seconds.")
    email: str | None = Field(default=None, max_length=320)
    sg_event_id: str | None = Field(default=None, max_length=256)
    sg_message_id: str | None = Field(default=None, max_length=256)
    user_id: str | None = Field(default=None, max_length=256, description="custom_arg set by our mails.")
    delivery_id: str | None = Field(default=None, max_length=256, description="custom_arg set by our mails.")
    type: str | None = Field(default=None, max_length=64, description="For bounce: 'bounce' (hard) or 'blocked'.")

    def opts_out_email(self) -> bool:
        """Hard bounce, spam report or unsubscribe: stop emailing this user."""
        if self.event == "bounce":
            return self.type != "blocked"
        return self.event in ("spamreport", "unsubscribe")


class WebhookResult(BaseModel):
    received: int
    published: int
    ignored: int = Field(description="Events without our user_id custom_arg, or of an unknown type.")
    rejected: int = Field(default=0, description="Entries that are not valid events (skipped, see the log).")
    email_opted_out: list[str] = Field(default_factory=list, description="Users opted out of email by this batch.")


def to_track_event(event: SendGridEvent) -> dict[str, Any] | None:
    """The Segment track event for one SendGrid event; None when it is not about one of our users."""
    name = EVENT_NAMES.get(event.event)
    if name is None or not event.user_id:
        return None
    extra = event.model_extra or {}
    fields = {**extra, **event.model_dump(exclude_none=True, exclude={"email", "timestamp", "user_id", "event"})}
    properties = {key: fields[key] for key in COPIED if fields.get(key) is not None}
    properties["channel"] = "email"
    properties["provider"] = "sendgrid"
    if event.sg_event_id:
        message_id = f"sendgrid:{event.sg_event_id}"
    else:
        digest = hashlib.sha256(event.model_dump_json().encode()).hexdigest()[:32]
        message_id = f"sendgrid:{digest}"
    return track_event(
        event.user_id, name, properties, message_id=message_id, at=datetime.fromtimestamp(event.timestamp, UTC)
    )


async def process_events(
    events: list[SendGridEvent], *, publish_event: PublishEvent, opt_out_email: OptOutEmail
) -> WebhookResult:
    published, ignored, opted_out = 0, 0, []
    for event in events:
        track = to_track_event(event)
        if track is None:
            ignored += 1
            continue
        await publish_event(track)
        published += 1
        if event.opts_out_email() and event.user_id:
            await opt_out_email(event.user_id, f"sendgrid:{event.event}")
            opted_out.append(event.user_id)
    return WebhookResult(
        received=len(events), published=published, ignored=ignored, email_opted_out=sorted(set(opted_out))
    )


def parse_events(raw: list[Any]) -> tuple[list[SendGridEvent], int]:
    """The valid events of a batch and how many entries were not (each logged, then skipped)."""
    events: list[SendGridEvent] = []
    for index, item in enumerate(raw):
        try:
            events.append(SendGridEvent.model_validate(item))
        except ValidationError as exc:
            log.warning("sendgrid webhook: entry %d skipped: %s", index, exc.errors(include_url=False)[:3])
    return events, len(raw) - len(events)


def sendgrid_webhook_router(
    verifier: SendGridSignatureVerifier | None,
    *,
    publish_event: PublishEvent,
    opt_out_email: OptOutEmail,
) -> APIRouter:
    """`POST /v1/webhooks/sendgrid`. 403 on a bad or stale signature, 503 when no key is configured
    (SendGrid retries for 72 hours, so events are not lost while the key is being set up)."""
    router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

    @router.post(
        "/sendgrid",
        response_model=WebhookResult,
        responses={
            400: {"description": "Body is not a JSON array of events"},
            403: {"description": "Missing or invalid signature, or signed outside the replay window"},
            413: {"description": "Body too large"},
            503: {"description": "No verification key configured"},
        },
    )
    async def sendgrid_events(request: Request) -> WebhookResult:
        """SendGrid's signed Event Webhook (configure this URL in SendGrid → Mail Settings → Event Webhook)."""
        if verifier is None:
            raise HTTPException(status_code=503, detail="NUDGEFLOW_SENDGRID_WEBHOOK_PUBLIC_KEY is not set")
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            raise HTTPException(status_code=413, detail="body too large")
        refused = verifier.check(body, request.headers.get(SIGNATURE_HEADER), request.headers.get(TIMESTAMP_HEADER))
        if refused:
            raise HTTPException(status_code=403, detail=refused)
        try:
            raw = json.loads(body)
        except (ValueError, RecursionError) as exc:
            raise HTTPException(status_code=400, detail=f"unreadable events: {exc}") from exc
        if not isinstance(raw, list):
            raise HTTPException(status_code=400, detail="unreadable events: not a JSON array")
        events, rejected = parse_events(raw)
        result = await process_events(events, publish_event=publish_event, opt_out_email=opt_out_email)
        result.rejected = rejected
        result.received = len(raw)
        log.info("sendgrid webhook: %s", result.model_dump())
        return result

    return router
