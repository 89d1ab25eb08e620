"""Inbound provider webhooks (delivery outcomes coming back): SendGrid's Event Webhook."""

from nudgeflow.channels.webhooks.sendgrid import (
    SendGridEvent,
    SendGridSignatureVerifier,
    WebhookResult,
    process_events,
    sendgrid_webhook_router,
    to_track_event,
)

__all__ = [
    "SendGridEvent",
    "SendGridSignatureVerifier",
    "WebhookResult",
    "process_events",
    "sendgrid_webhook_router",
    "to_track_event",
]
