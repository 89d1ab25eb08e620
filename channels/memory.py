"""An in-memory channel the package owns, so tests of the engine and outbox need no patching.

It records every message it is asked to send and answers from a script of
results (default: sent). Like a real provider it does not deduplicate.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from nudgeflow.channels.base import OutboundMessage, SendResult


class RecordingChannel:
    """`sent` lists messages answered "sent"; `calls` lists every send, whatever the answer."""

    def __init__(self, name: str = "memory", *, results: Iterable[SendResult] = ()) -> None:
        self.name = name
        self.calls: list[OutboundMessage] = []
        self.sent: list[OutboundMessage] = []
        self._script: deque[SendResult] = deque(results)

    def script(self, *results: SendResult) -> None:
        """Queue answers for the next sends; once used up, sends succeed again."""
        self._script.extend(results)

    async def send(self, message: OutboundMessage) -> SendResult:
        self.calls.append(message)
        if self._script:
            result = self._script.popleft()
        else:
            result = SendResult.sent(provider_message_id=f"{self.name}-{len(self.calls)}")
        if result.status == "sent":
            self.sent.append(message)
        return result
