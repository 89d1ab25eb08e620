"""The inbox agent: prompts topic → `inbox` table, one row per user on the user's partition.

Every prompt record goes through here: the creations the event agent publishes and the status
changes the API publishes (from any replica). Both are keyed `user_id/delivery_id` but written to
the user's own partition, so the worker holding a user's state holds their inbox too, in RocksDB,
and memory follows the partitions a worker holds, never the number of users. Merging is
idempotent (a status never moves back), so a record read twice after a crash changes nothing.
"""

from __future__ import annotations

import logging
from typing import Any

import faust
from pydantic import ValidationError

from nudgeflow.channels.inapp.inbox import UserInbox
from nudgeflow.orchestrator.broker.partitioning import partition_for
from nudgeflow.orchestrator.inbox.applied import AppliedPrompts
from nudgeflow.orchestrator.settings import Settings
from nudgeflow.orchestrator.tables import store_options
from nudgeflow.rules.contracts.prompts import Prompt

log = logging.getLogger(__name__)


def register_inbox(
    app: faust.App, settings: Settings, *, prompts: faust.TopicT, applied: AppliedPrompts | None = None
) -> Any:
    """Declares the `inbox` table (user id → `UserInbox` as JSON) and its agent; returns the table.
    `applied` hears of every prompt stored (status changes waiting to be read back)."""
    partitions = settings.topic_partitions
    table = app.Table("inbox", partitions=partitions, options=store_options(settings))

    async def apply_prompts(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            message = event.message
            if message.value is None:
                continue  # a compaction tombstone
            try:
                prompt = Prompt.model_validate_json(message.value)
            except ValidationError as exc:
                log.warning("inbox: skipping unreadable prompt record at %s: %s", message.offset, exc)
                continue
            home = partition_for(prompt.user_id.encode(), partitions)
            if home != message.partition:
                # Written before prompts went to their user's partition: move it there (applied when read
                # back) and clear it here, so compaction drops the old copy.
                await (await prompts.send(key=message.key, value=message.value, partition=home))
                await (await prompts.send(key=message.key, value=None, partition=message.partition))
                continue
            inbox = UserInbox.load(prompt.user_id, table.get(prompt.user_id))
            if inbox.apply(prompt) is not None:
                table[prompt.user_id] = inbox.dump()
            if applied is not None:
                applied.applied(inbox.prompts.get(prompt.delivery_id, prompt))

    app.agent(prompts, name="inbox")(apply_prompts)
    return table
