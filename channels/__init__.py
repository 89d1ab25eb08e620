"""Channel adapters: one delivery contract, one module per provider.

    Channel.send(OutboundMessage) -> SendResult("sent" | "retry" | "failed")

Adapters never sleep or retry; `RetryPolicy` and `deliver_with_retries` do.
Provider stand-ins for tests and the demo live in `nudgeflow.channels.standins`.

The names below are imported on first use (PEP 562): every CLI command imports the settings,
which import `nudgeflow.channels.inapp`, and loading the Slack and SendGrid clients with it cost
~0.4 s of each `nudgeflow report`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nudgeflow.channels.base import (
        Channel,
        ChannelConfigError,
        ChannelError,
        OutboundMessage,
        SendResult,
        SendStatus,
    )
    from nudgeflow.channels.email_sendgrid import SendGridEmailChannel
    from nudgeflow.channels.memory import RecordingChannel
    from nudgeflow.channels.outbox import Attempt, attempt_once, deliver_with_retries, outcome
    from nudgeflow.channels.retry import NO_RETRY, RetryPolicy
    from nudgeflow.channels.slack import SlackChannel

_HOMES = {
    "Channel": "base",
    "ChannelConfigError": "base",
    "ChannelError": "base",
    "OutboundMessage": "base",
    "SendResult": "base",
    "SendStatus": "base",
    "SendGridEmailChannel": "email_sendgrid",
    "RecordingChannel": "memory",
    "Attempt": "outbox",
    "attempt_once": "outbox",
    "deliver_with_retries": "outbox",
    "outcome": "outbox",
    "NO_RETRY": "retry",
    "RetryPolicy": "retry",
    "SlackChannel": "slack",
}

__all__ = [
    "NO_RETRY",
    "Attempt",
    "Channel",
    "ChannelConfigError",
    "ChannelError",
    "OutboundMessage",
    "RecordingChannel",
    "RetryPolicy",
    "SendGridEmailChannel",
    "SendResult",
    "SendStatus",
    "SlackChannel",
    "attempt_once",
    "deliver_with_retries",
    "outcome",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
