"""Checklists on the live streams: every replica tails the `users` table's changelog from its end and,
for the users with a stream open here (and only those: the key is checked before anything is
decoded), computes the checklist from the new record and hands it to the streams."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from nudgeflow.channels.inapp.progress_feed import ProgressFeed
from nudgeflow.orchestrator.broker.follower import TopicFollower
from nudgeflow.rules.contracts.progress import UserChecklist
from nudgeflow.rules.contracts.users import UserRecord

log = logging.getLogger(__name__)


class ProgressChanges(TopicFollower):
    name = "progress-changes"

    def __init__(
        self,
        feed: ProgressFeed,
        checklist_of: Callable[[UserRecord], UserChecklist],
        *,
        changelog_topic: str,
        kafka_options: dict[str, Any],
    ) -> None:
        super().__init__(topics=[changelog_topic], kafka_options=kafka_options, from_end=True)
        self.feed = feed
        self.checklist_of = checklist_of

    def apply(self, topic: str, key: bytes | None, value: bytes | None) -> None:
        if value is None or self.feed.listened(key) is None:
            return
        try:
            record = UserRecord.model_validate_json(value)
        except ValidationError as exc:
            log.warning("progress-changes: skipping unreadable user record: %s", exc)
            return
        self.feed.publish(self.checklist_of(record))
