"""The changes live streams hear about on one API replica, with a short journal for reconnects.

Every change gets the next sequence number of this feed. The journal keeps the latest changes so a
stream that reconnects (SSE `Last-Event-ID`) gets exactly what it missed instead of the whole inbox
again. Sequence numbers only mean something in this process: `epoch` tells a stream id from another
replica or an earlier run apart (that stream starts over with a snapshot).
"""

from __future__ import annotations

import secrets
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from nudgeflow.channels.inapp.inbox import Change
from nudgeflow.rules.contracts.prompts import Prompt

JOURNAL_SIZE = 10_000


@dataclass(frozen=True)
class FeedEntry:
    sequence: int
    prompt: Prompt
    change: Change
    unread: int  # the user's unread count right after this change


Listener = Callable[[FeedEntry], None]


class InboxFeed:
    def __init__(self, *, journal_size: int = JOURNAL_SIZE) -> None:
        self._listeners: list[Listener] = []
        self._journal: deque[FeedEntry] = deque(maxlen=journal_size)
        self.sequence = 0  # of the latest change
        self.epoch = secrets.token_hex(4)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    @property
    def listening(self) -> int:
        """Open live streams on this replica."""
        return len(self._listeners)

    def publish(self, prompt: Prompt, change: Change, unread: int) -> FeedEntry:
        self.sequence += 1
        entry = FeedEntry(self.sequence, prompt, change, unread)
        self._journal.append(entry)
        for listener in list(self._listeners):
            listener(entry)
        return entry

    def changes_since(self, user_id: str, sequence: int) -> list[FeedEntry] | None:
        """A user's changes after `sequence`, oldest first; None when the journal no longer reaches back."""
        if sequence < 0 or sequence > self.sequence:
            return None
        oldest = self._journal[0].sequence if self._journal else self.sequence + 1
        if sequence < oldest - 1:
            return None
        return [entry for entry in self._journal if entry.sequence > sequence and entry.prompt.user_id == user_id]

    def event_id(self, sequence: int) -> str:
        return f"{self.epoch}-{sequence}"

    def resume_point(self, last_event_id: str | None) -> int | None:
        """The sequence a reconnecting client saw last, if its id comes from this feed."""
        if not last_event_id:
            return None
        epoch, _, sequence = last_event_id.strip().rpartition("-")
        if epoch != self.epoch or not sequence.isdigit() or len(sequence) > 18:
            return None
        return int(sequence)

    def recent_users(self) -> list[str]:
        """Users with a change still in the journal (the demo page lists them)."""
        return sorted({entry.prompt.user_id for entry in self._journal})
