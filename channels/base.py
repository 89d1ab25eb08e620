"""The one delivery contract every channel adapter implements.

A channel turns an `OutboundMessage` into one provider call and reports what
happened as a `SendResult`. It never sleeps and never retries by itself: the
outbox owns scheduling (see `nudgeflow.channels.outbox`), so a rate limit or an outage
shows up as `status="retry"` with the provider's `retry_after_seconds`.

Provider and network errors are *returned*, not raised. `ChannelError` is the
root for the few things that are programming or configuration mistakes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, model_validator

from nudgeflow.rules.contracts.deliveries import RenderedImage, RenderedLink

if TYPE_CHECKING:
    from nudgeflow.rules.contracts.deliveries import DeliveryRequest

SendStatus = Literal["sent", "retry", "failed"]
DEFAULT_CTA_LABEL = "Open"


class ChannelError(Exception):
    """Root of errors raised (not returned) by `channels`: misconfiguration, misuse."""


class ChannelConfigError(ChannelError, ValueError):
    """A channel was built with settings it cannot work with."""


class OutboundMessage(BaseModel):
    """Everything any provider needs to send one logical message.

    `delivery_id` is the idempotency key from `DeliveryRequest`; adapters pass it
    to the provider (SendGrid custom_args, Slack message metadata) so webhooks and
    audits can be joined back to the decision that caused the message.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    delivery_id: str = Field(min_length=1)
    channel: str
    user_id: str
    kind: str = Field(description="celebration | nudge | welcome")
    title: str
    body: str = Field(description="Plain text (Slack: mrkdwn) body.")
    html: str | None = Field(default=None, description="HTML body for email; built from `body` when absent.")
    to_email: str | None = None
    slack_user_id: str | None = None
    slack_channel: str | None = Field(default=None, description="Post to this team channel instead of a DM.")
    template_id: str | None = Field(default=None, description="SendGrid dynamic template id.")
    template_data: dict[str, Any] = Field(default_factory=dict)
    categories: list[str] = Field(default_factory=list)
    custom_args: dict[str, str] = Field(default_factory=dict)
    unsubscribe_url: str | None = None
    cta: RenderedLink | None = Field(default=None, description="The primary call to action: a button.")
    secondary_cta: RenderedLink | None = None
    links: list[RenderedLink] = Field(default_factory=list, description="Plain links (help article, video).")
    image: RenderedImage | None = None
    progress_done: int | None = Field(default=None, ge=0)
    progress_total: int | None = Field(default=None, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _cta_url_shorthand(cls, value: Any) -> Any:
        """`cta_url="https://…"` (the older, label-less form) is a `cta` labelled "Open"."""
        if isinstance(value, dict) and "cta_url" in value:
            value = dict(value)
            url = value.pop("cta_url")
            if url and value.get("cta") is None:
                value["cta"] = {"label": DEFAULT_CTA_LABEL, "url": url}
        return value

    @property
    def cta_url(self) -> str | None:
        return self.cta.url if self.cta else None

    @classmethod
    def from_delivery(cls, request: DeliveryRequest, **overrides: Any) -> OutboundMessage:
        """Build from the engine's decision.

        Contact fields (`to_email`, `slack_user_id`, ...) may sit in `request.data`
        under the field's own name, in `data["traits"]` (Segment identify traits:
        `email`, `slack_user_id`), or come from `overrides` (e.g. a profile lookup);
        `done`/`total` in data become the progress fields.
        """
        data = dict(request.data)
        raw_traits = data.get("traits")
        traits: dict[str, Any] = raw_traits if isinstance(raw_traits, dict) else {}
        fields: dict[str, Any] = {
            "delivery_id": request.delivery_id,
            "channel": request.channel,
            "user_id": request.user_id,
            "kind": request.kind,
            "title": request.title,
            "body": request.body,
            "categories": ["nudgeflow", request.kind, request.playbook_id],
            "custom_args": {
                "playbook_id": request.playbook_id,
                "playbook_version": request.playbook_version,
                "milestone_id": request.milestone_id,
                "step": str(request.step),
            },
        }
        if isinstance(traits.get("email"), str):
            fields["to_email"] = traits["email"]
        if isinstance(traits.get("slack_user_id"), str):
            fields["slack_user_id"] = traits["slack_user_id"]
        for name, value in request.media().items():
            if value and name in cls.model_fields:  # a survey is answered in-app only
                fields[name] = value
        if "cta_url" in data:
            fields["cta_url"] = data.pop("cta_url")
        if "done" in data:
            fields["progress_done"] = data.pop("done")
        if "total" in data:
            fields["progress_total"] = data.pop("total")
        for key in cls.model_fields:
            if key in data and key not in ("delivery_id", "user_id", "channel", "kind"):
                fields[key] = data.pop(key)
        fields.update(overrides)
        return cls(**fields)


class SendResult(BaseModel):
    """What one provider call did.

    `retry` means "nothing known to be delivered, try later" (429, 5xx, timeout,
    connection error); `failed` means "retrying the same request cannot help"
    (bad request, bad credentials, unknown recipient). `reason` carries the
    provider's own error text so operators can act on it.
    """

    model_config = ConfigDict(frozen=True)

    status: SendStatus
    provider_message_id: str | None = None
    retry_after_seconds: float | None = Field(default=None, ge=0)
    reason: str | None = None
    status_code: int | None = None

    @classmethod
    def sent(cls, *, provider_message_id: str | None, status_code: int | None = None) -> SendResult:
        return cls(status="sent", provider_message_id=provider_message_id, status_code=status_code)

    @classmethod
    def retry(
        cls, *, reason: str, retry_after_seconds: float | None = None, status_code: int | None = None
    ) -> SendResult:
        return cls(status="retry", reason=reason, retry_after_seconds=retry_after_seconds, status_code=status_code)

    @classmethod
    def failed(cls, *, reason: str, status_code: int | None = None) -> SendResult:
        return cls(status="failed", reason=reason, status_code=status_code)

    @property
    def is_final(self) -> bool:
        """True when no further attempt should be made for this message."""
        return self.status != "retry"


@runtime_checkable
class Channel(Protocol):
    """A delivery channel: one provider call per `send`, errors as results."""

    name: str

    async def send(self, message: OutboundMessage) -> SendResult:
        """Send once. Must not raise for provider/network errors and must not sleep to retry."""
        ...
