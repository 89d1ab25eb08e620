"""Follows the preferences topic into a `PreferencesStore`."""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError

from nudgeflow.channels.preferences.store import PreferencesStore
from nudgeflow.orchestrator.broker.follower import TopicFollower
from nudgeflow.rules.contracts.preferences import Preferences

log = logging.getLogger(__name__)


class PreferencesMaterializer(TopicFollower):
    """`PreferencesMaterializer(store, topic=settings.preferences_topic, kafka_options=aiokafka_options(...))`;
    `await start()`, then `await caught_up.wait()` before trusting `store.allows`."""

    name = "preferences-materializer"

    def __init__(self, store: PreferencesStore, *, topic: str, kafka_options: dict[str, Any]) -> None:
        super().__init__(topics=[topic], kafka_options=kafka_options)
        self.store = store

    def apply(self, topic: str, key: bytes | None, value: bytes | None) -> None:
        if value is None:
            if key:
                self.store.forget(key.decode("utf-8", "replace"))
            return
        try:
            self.store.apply(Preferences.model_validate_json(value))
        except ValidationError as exc:
            log.warning("skipping unreadable preferences record: %s", exc)


def preferences_key(user_id: str) -> bytes:
    return user_id.encode()
