"""Every API replica's live streams hear about inbox changes from the `inbox` table's changelog.

The worker holding a user writes each real change of their inbox as a changelog record (the whole
row, which names the prompt that changed). Each replica tails that changelog from its end, holding
nobody's inbox: only the short journal of `InboxFeed` for reconnecting streams. So a browser
connected to any replica gets its user's prompts live, whichever worker holds the user, and across
rebalances (the changelog does not move).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from aiokafka import TopicPartition
from pydantic import ValidationError

from nudgeflow.channels.inapp.feed import InboxFeed, Position
from nudgeflow.orchestrator.broker.follower import TopicFollower
from nudgeflow.rules.contracts.prompts import Prompt, PromptStatus

log = logging.getLogger(__name__)


class InboxChanges(TopicFollower):
    name = "inbox-changes"

    def __init__(self, feed: InboxFeed, *, changelog_topic: str, kafka_options: dict[str, Any]) -> None:
        super().__init__(topics=[changelog_topic], kafka_options=kafka_options, from_end=True)
        self.feed = feed

    def following_from(self, positions: dict[TopicPartition, int]) -> None:
        for tp, offset in positions.items():
            self.feed.start(tp.partition, offset)

    def apply_record(self, topic: str, partition: int, offset: int, key: bytes | None, value: bytes | None) -> None:
        if value is None:
            return
        row = json.loads(value)  # only the changed prompt is validated: rows hold up to 500 prompts
        last, prompts = row.get("last"), row.get("prompts", {})
        if not last or last.get("delivery_id") not in prompts:
            return
        try:
            prompt = Prompt.model_validate(prompts[last["delivery_id"]])
        except ValidationError as exc:
            log.warning("inbox-changes: skipping unreadable row: %s", exc)
            return
        now = datetime.now(UTC)
        unread = sum(
            1
            for p in prompts.values()
            if p.get("status") == PromptStatus.PENDING.value
            and not (p.get("snoozed_until") and datetime.fromisoformat(p["snoozed_until"]) > now)
        )
        self.feed.publish(prompt, last["change"], unread, Position(partition, offset))
