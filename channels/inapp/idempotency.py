"""`Idempotency-Key` on the inbox's writes, as the messaging APIs users know do it: a request retried
with the same key within 24 h gets the first answer again instead of acting twice.

Kept by the worker that made the change (writes go to the worker holding the user), in memory,
bounded. Every write is idempotent by itself as well (a status never moves back, the latest snooze
wins, track events carry a messageId derived from the change), so a retry that reaches a worker
without the key (after a restart or a rebalance) changes nothing either; only its answer may differ
(mark-all then reports 0 changed).
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

TTL_SECONDS = 24 * 3600.0
MAX_KEYS = 100_000
MAX_KEY_LENGTH = 255


class KeyReused(ValueError):
    """The key came with another request: the client has a bug, nothing is done."""


@dataclass(frozen=True)
class Answer:
    status_code: int
    body: bytes


class IdempotencyKeys:
    def __init__(self, *, ttl: float = TTL_SECONDS, limit: int = MAX_KEYS, clock: Callable[[], float] = time.monotonic):
        self.ttl, self.limit, self.clock = ttl, limit, clock
        self._answers: OrderedDict[tuple[str, str], tuple[float, str, Answer]] = OrderedDict()

    @staticmethod
    def fingerprint(route: str, body: bytes) -> str:
        return hashlib.sha256(route.encode() + b"\0" + body).hexdigest()

    def answer(self, user_id: str, key: str, fingerprint: str) -> Answer | None:
        """The first answer to this key, if any; `KeyReused` when it came with another request."""
        self._expire()
        found = self._answers.get((user_id, key))
        if found is None:
            return None
        _, first, answer = found
        if first != fingerprint:
            raise KeyReused("this Idempotency-Key was used with another request")
        return answer

    def remember(self, user_id: str, key: str, fingerprint: str, answer: Answer) -> None:
        self._answers[(user_id, key)] = (self.clock() + self.ttl, fingerprint, answer)
        while len(self._answers) > self.limit:
            self._answers.popitem(last=False)

    def _expire(self) -> None:
        now = self.clock()
        while self._answers:
            expires, _, _ = next(iter(self._answers.values()))
            if expires > now:
                return
            self._answers.popitem(last=False)
