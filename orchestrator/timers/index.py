"""Armed timers in the state store, keyed by due time: a million armed timers cost disk, not RAM.

The `timers` table holds one entry per armed timer: `<due µs since the epoch, 17 digits><user id
length, 4 hex><user id><timer id>` → the user's partition. The due time is exact, since the agent
compares it with the armed one. Keys sort by due time, so the worker finds what is due by reading
each owned partition's RocksDB from its head and stopping at the first timer not yet due. The agent
keeps the entries equal to each stored user record's timers, in the same step that stores the
record; a restart or a takeover finds them in the partition's local state or its changelog, like
the record itself.

Firing publishes a command and marks the entry in flight until the agent, applying the command,
deletes it (or finds it stale and deletes it). Only the in-flight entries are in memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, MutableMapping
from datetime import UTC, datetime, timedelta

from nudgeflow.orchestrator.broker.table_partitions import rocksdb_store
from nudgeflow.orchestrator.timers.schedule import ScheduledTimer

DUE_DIGITS = 17
LENGTH_DIGITS = 4
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_DUE_PER_PASS = 1_000
MICROSECOND = timedelta(microseconds=1)


def index_key(user_id: str, timer_id: str, due_at: datetime) -> bytes:
    user = user_id.encode()
    return b"%017d%04x" % ((due_at - EPOCH) // MICROSECOND, len(user)) + user + timer_id.encode()


def parse_key(key: bytes, partition: int) -> ScheduledTimer:
    due_us = int(key[:DUE_DIGITS])
    length = int(key[DUE_DIGITS : DUE_DIGITS + LENGTH_DIGITS], 16)
    start = DUE_DIGITS + LENGTH_DIGITS
    return ScheduledTimer(
        due_at=EPOCH + due_us * MICROSECOND,
        user_id=key[start : start + length].decode(),
        timer_id=key[start + length :].decode(),
        partition=partition,
    )


def _is_timer_key(key: bytes) -> bool:
    return key[:DUE_DIGITS].isdigit()  # Faust keeps its offset key in the same database


class TimerIndex:
    """The agent's writes (`sync`, `ensure`, `discard`) and the firing loop's reads (`due`)."""

    def __init__(self, table: MutableMapping[bytes, bytes]) -> None:
        self.table = table  # the Faust `timers` table (raw keys and values), or a dict in unit tests
        self.in_flight: set[bytes] = set()
        self._low: dict[int, bytes] = {}  # per partition: no live entry sorts before this key
        self.next_due: float | None = None  # epoch seconds of the earliest entry not yet due, at the last scan

    # The agent's side: called while it handles a record of the user's partition.

    def sync(self, user_id: str, partition: int, before: dict[str, datetime], after: dict[str, datetime]) -> None:
        """Make the entries of one user go from the timers of `before` to those of `after`."""
        for timer_id, due_at in before.items():
            if after.get(timer_id) != due_at:
                self._delete(index_key(user_id, timer_id, due_at))
        for timer_id, due_at in after.items():
            if before.get(timer_id) != due_at:
                self._put(index_key(user_id, timer_id, due_at), partition)

    def ensure(self, user_id: str, partition: int, armed: dict[str, datetime]) -> None:
        """Write any of the record's timers the index lacks: after a crash the record's changelog may
        have got through without the index's, and the replayed event is then only a duplicate."""
        for timer_id, due_at in armed.items():
            key = index_key(user_id, timer_id, due_at)
            if self.table.get(key) is None:
                self._put(key, partition)

    def discard(self, user_id: str, timer_id: str, due_at: datetime) -> None:
        """A command the record no longer arms: its entry (if any) goes, so it is not fired again."""
        self._delete(index_key(user_id, timer_id, due_at))

    # The firing loop's side.

    def due(self, now: float, owned: Iterable[int], limit: int = MAX_DUE_PER_PASS) -> list[ScheduledTimer]:
        """Entries due by `now` on the owned partitions that are not in flight, earliest first per
        partition, at most `limit` (a backlog drains over several passes without blocking the loop);
        records the earliest entry not yet due in `next_due`."""
        now_key = b"%017d" % (now * 1_000_000)
        found: list[ScheduledTimer] = []
        next_due: float | None = None
        for partition in owned:
            head: bytes | None = None
            for key in self._keys_from(partition, self._low.get(partition, b"")):
                if key[:DUE_DIGITS] > now_key:
                    head = key if head is None else head
                    upcoming = int(key[:DUE_DIGITS]) / 1_000_000
                    next_due = upcoming if next_due is None else min(next_due, upcoming)
                    break
                if key in self.in_flight:
                    continue
                head = key if head is None else head
                if len(found) >= limit:
                    next_due = now  # more is due: come back at once
                    break
                found.append(parse_key(key, partition))
            if head is not None:
                self._low[partition] = head
        self.next_due = next_due
        return found

    def earliest(self, owned: Iterable[int]) -> float | None:
        """Epoch seconds of the earliest entry not in flight on the owned partitions."""
        heads = []
        for partition in owned:
            head = next(
                (k for k in self._keys_from(partition, self._low.get(partition, b"")) if k not in self.in_flight), None
            )
            if head is not None:
                heads.append(int(head[:DUE_DIGITS]) / 1_000_000)
        return min(heads, default=None)

    def fired(self, timer: ScheduledTimer) -> None:
        """The command is published: skip the entry until the agent deletes it."""
        self.in_flight.add(index_key(timer.user_id, timer.timer_id, timer.due_at))

    def reset(self) -> None:
        """After a rebalance: partitions changed hands, so scan them from their heads again."""
        self.in_flight.clear()
        self._low.clear()
        self.next_due = None

    def count(self, owned: Iterable[int]) -> int:
        """Armed timers on the owned partitions (RocksDB's estimate; exact for an in-memory table)."""
        store = rocksdb_store(self.table)
        if store is None:
            return sum(1 for key, value in list(self.table.items()) if int(value) in set(owned))
        total = 0
        for partition in owned:
            db = store._dbs.get(partition)
            if db is not None:
                total += max(int(db.property_int_value("rocksdb.estimate-num-keys") or 0) - 1, 0)  # − offset key
        return total

    def _put(self, key: bytes, partition: int) -> None:
        self.table[key] = b"%d" % partition
        low = self._low.get(partition)
        if low is not None and key < low:
            self._low[partition] = key

    def _delete(self, key: bytes) -> None:
        self.in_flight.discard(key)
        if self.table.get(key) is not None:  # a lookup first: Faust then deletes in one partition only
            del self.table[key]

    def _keys_from(self, partition: int, start: bytes) -> Iterator[bytes]:
        store = rocksdb_store(self.table)
        if store is None:  # in-memory: small by construction (unit tests, `memory://` store)
            for key, value in sorted(self.table.items()):
                if key >= start and int(value) == partition:
                    yield key
            return
        db = store._dbs.get(partition)
        if db is None:
            return
        for key in db.keys(from_key=start):
            if not _is_timer_key(key):
                return  # past the timers: Faust's offset key sorts after every digit
            yield key
