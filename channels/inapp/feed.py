"""The inbox changes live streams hear about on one API replica, with a journal for reconnects.

Each change is a record of the `inbox` table's changelog, and its position there — partition and
offset, `<partition>-<offset>` as an SSE event id — is the same on every replica. A user's changes
all land on one partition (the user's), so a position orders them. A browser that reconnects,
to this replica or another, sends the last id it saw (`Last-Event-ID`): when the journal of the
replica it reaches still holds that partition from there on, the stream replays exactly what was
missed; else it starts over with a snapshot.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from nudgeflow.channels.inapp.inbox import Change
from nudgeflow.rules.contracts.prompts import Prompt

JOURNAL_SIZE = 10_000


@dataclass(frozen=True)
class Position:
    partition: int
    offset: int  # of the changelog record; -1: before the first one

    @property
    def event_id(self) -> str:
        return f"{self.partition}-{self.offset}"

    @classmethod
    def parse(cls, event_id: str | None) -> Position | None:
        partition, _, offset = (event_id or "").strip().partition("-")
        if not partition.isdigit() or not offset.lstrip("-").isdigit() or len(event_id or "") > 40:
            return None
        return cls(int(partition), int(offset))


@dataclass(frozen=True)
class FeedEntry:
    position: Position
    prompt: Prompt
    change: Change
    unread: int  # the user's unread count right after this change


Listener = Callable[[FeedEntry], None]


class InboxFeed:
    """`partition_of(user_id)` names the changelog partition of a user's changes."""

    def __init__(self, partition_of: Callable[[str], int], *, journal_size: int = JOURNAL_SIZE) -> None:
        self.partition_of = partition_of
        self._listeners: list[Listener] = []
        self._journal: deque[FeedEntry] = deque(maxlen=journal_size)
        self._floor: dict[int, int] = {}  # per partition: the first offset the journal still holds from
        self._latest: dict[int, int] = {}  # per partition: the offset of the latest change heard

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    @property
    def listening(self) -> int:
        """Open live streams on this replica."""
        return len(self._listeners)

    def start(self, partition: int, offset: int) -> None:
        """This feed hears every change of `partition` from `offset` on."""
        self._floor[partition] = offset
        self._latest[partition] = offset - 1

    def publish(self, prompt: Prompt, change: Change, unread: int, position: Position) -> FeedEntry:
        entry = FeedEntry(position, prompt, change, unread)
        self._floor.setdefault(position.partition, position.offset)
        if len(self._journal) == self._journal.maxlen:
            dropped = self._journal[0].position
            self._floor[dropped.partition] = dropped.offset + 1
        self._journal.append(entry)
        self._latest[position.partition] = position.offset
        for listener in list(self._listeners):
            listener(entry)
        return entry

    def position_of(self, user_id: str) -> Position:
        """Where this feed is on the user's partition: a snapshot read now shows at least that much."""
        partition = self.partition_of(user_id)
        return Position(partition, self._latest.get(partition, -1))

    def changes_since(self, user_id: str, seen: Position) -> list[FeedEntry] | None:
        """The user's changes after `seen`, oldest first; None when this journal does not reach back
        to it (or it is of another partition than the user's)."""
        if seen.partition != self.partition_of(user_id) or seen.partition not in self._floor:
            return None
        if seen.offset + 1 < self._floor[seen.partition]:
            return None
        return [
            entry
            for entry in self._journal
            if entry.prompt.user_id == user_id
            and entry.position.partition == seen.partition
            and entry.position.offset > seen.offset
        ]

    def recent_users(self) -> list[str]:
        """Users with a change still in the journal (the demo page lists them)."""
        return sorted({entry.prompt.user_id for entry in self._journal})
