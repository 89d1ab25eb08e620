"""Checklist changes for the live streams open on one replica: only users with an open stream are
listened for, so a replica reading every user's changes decodes just those users' records."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable

from nudgeflow.rules.contracts.progress import UserChecklist

ProgressListener = Callable[[UserChecklist], None]


class ProgressFeed:
    def __init__(self) -> None:
        self._listeners: dict[str, list[ProgressListener]] = defaultdict(list)
        self._keys: dict[bytes, str] = {}  # a table key as Faust writes it (JSON) → user id

    def subscribe(self, user_id: str, listener: ProgressListener) -> Callable[[], None]:
        self._listeners[user_id].append(listener)
        self._keys[json.dumps(user_id).encode()] = user_id

        def unsubscribe() -> None:
            listeners = self._listeners.get(user_id, [])
            if listener in listeners:
                listeners.remove(listener)
            if not listeners:
                self._listeners.pop(user_id, None)
                self._keys.pop(json.dumps(user_id).encode(), None)

        return unsubscribe

    def listened(self, table_key: bytes | None) -> str | None:
        """The user of a changelog key, when a stream here listens for them (else None: skip the record)."""
        return self._keys.get(table_key) if table_key is not None else None

    def publish(self, checklist: UserChecklist) -> None:
        for listener in list(self._listeners.get(checklist.user_id, [])):
            listener(checklist)
