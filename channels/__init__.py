"""Channel adapters: one delivery contract, one module per provider.

    Channel.send(OutboundMessage) -> SendResult("sent" | "retry" | "failed")

Adapters never sleep or retry; `RetryPolicy` and `deliver_with_retries` do.
Provider stand-ins for tests and the demo live in `nudgeflow.channels.standins`.
"""

from nudgeflow.channels.base import Channel, ChannelConfigError, ChannelError, OutboundMessage, SendResult, SendStatus
from nudgeflow.channels.email_sendgrid import SendGridEmailChannel
from nudgeflow.channels.memory import RecordingChannel
from nudgeflow.channels.outbox import Attempt, attempt_once, deliver_with_retries, outcome
from nudgeflow.channels.retry import NO_RETRY, RetryPolicy
from nudgeflow.channels.slack import SlackChannel

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
