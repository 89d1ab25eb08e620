"""Channel adapters: one delivery contract, one module per provider.

    Channel.send(OutboundMessage) -> SendResult("sent" | "retry" | "failed")

Adapters never sleep or retry; `RetryPolicy` and `deliver_with_retries` do.
Provider stand-ins for tests and the demo live in `channels.standins`.
"""

from channels.base import Channel, ChannelConfigError, ChannelError, OutboundMessage, SendResult, SendStatus
from channels.email_sendgrid import SendGridEmailChannel
from channels.memory import RecordingChannel
from channels.outbox import Attempt, deliver_with_retries, outcome
from channels.retry import NO_RETRY, RetryPolicy
from channels.slack import SlackChannel

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
    "deliver_with_retries",
    "outcome",
]
