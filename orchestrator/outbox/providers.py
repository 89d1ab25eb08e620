"""Builds the outbox's parts from settings: channels (unset credentials leave one off), retry,
expiry and circuit-breaker policies."""

from __future__ import annotations

from collections.abc import Callable

from nudgeflow.channels.base import Channel, OutboundMessage
from nudgeflow.channels.email_sendgrid import SendGridEmailChannel
from nudgeflow.channels.inapp.auth import unsubscribe_url
from nudgeflow.channels.inapp.clicks import tracked_links
from nudgeflow.channels.retry import RetryPolicy
from nudgeflow.channels.slack import SlackChannel
from nudgeflow.orchestrator.outbox.breaker import CircuitBreaker
from nudgeflow.orchestrator.outbox.expiry import ExpiryPolicy
from nudgeflow.orchestrator.settings import Settings
from nudgeflow.rules.contracts.deliveries import DeliveryRequest


def build_channels(settings: Settings) -> dict[str, Channel]:
    channels: dict[str, Channel] = {}
    if settings.sendgrid_api_key is not None:
        channels["email"] = SendGridEmailChannel(
            settings.sendgrid_api_key.get_secret_value(),
            settings.email_from,
            settings.sendgrid_host,
            from_name=settings.email_from_name,
        )
    if settings.slack_bot_token is not None:
        channels["slack"] = SlackChannel(
            settings.slack_bot_token.get_secret_value(), settings.slack_api_url, settings.slack_default_channel
        )
    return channels


PROVIDER_NAMES = {"email": "sendgrid", "slack": "slack"}  # metrics label of each channel's lane


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(
        max_attempts=settings.delivery_max_attempts,
        base_delay=settings.delivery_base_delay,
        max_delay=max(settings.delivery_max_delay, settings.delivery_base_delay),
        window=settings.delivery_retry_window,
    )


def expiry_policy(settings: Settings) -> ExpiryPolicy:
    return ExpiryPolicy(
        {
            "celebration": settings.delivery_celebration_max_age,
            "welcome": settings.delivery_celebration_max_age,  # a late welcome is as stale as a late celebration
            "nudge": settings.delivery_nudge_max_age,
        }
    )


def circuit_breaker(settings: Settings) -> Callable[[], CircuitBreaker]:
    def build() -> CircuitBreaker:
        return CircuitBreaker(
            failure_threshold=settings.delivery_breaker_failures, reset_after=settings.delivery_breaker_reset
        )

    return build


def message_builder(settings: Settings) -> Callable[[DeliveryRequest], OutboundMessage]:
    """Builds each provider message; when the API's public URL and signing secret are configured,
    emails get a signed one-click unsubscribe link, and CTAs/links go through the API's click redirect."""
    base, secret = settings.public_api_url, settings.inapp_signing_keys()

    def build(request: DeliveryRequest) -> OutboundMessage:
        if not base or secret is None:
            return OutboundMessage.from_delivery(request)
        if request.channel == "email":
            message = OutboundMessage.from_delivery(
                request, unsubscribe_url=unsubscribe_url(base, secret, request.user_id)
            )
        else:
            message = OutboundMessage.from_delivery(request)
        return tracked_links(message, request, base, secret)

    return build
