"""Keeps the in-memory inbox in step with the compacted prompts topic.

Each API replica holds the whole topic (see nudgeflow.orchestrator.broker.follower), so
any replica answers any user, whichever worker owns the user's partition.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError

from nudgeflow.channels.inapp.store import InboxStore
from nudgeflow.orchestrator.broker.follower import TopicFollower
from nudgeflow.rules.contracts.prompts import Prompt

log = logging.getLogger(__name__)


class InboxMaterializer(TopicFollower):
    name = "inbox-materializer"

    def __init__(self, store: InboxStore, *, topic: str, kafka_options: dict[str, Any]) -> None:
        super().__init__(topics=[topic], kafka_options=kafka_options)
        self.store = store

    def apply(self, topic: str, key: bytes | None, value: bytes | None) -> None:
        if value is None:
            return
        try:
            self.store.apply(Prompt.model_validate_json(value))
        except ValidationError as exc:
            log.warning("skipping unreadable prompt record: %s", exc)
