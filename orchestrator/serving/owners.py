"""Which worker owns a user's state: the group's partition assignment, as Faust's assignor shares it.

Every worker announces its in-app API URL (`canonical_url`) when it joins the group; the assignor
hands every member the map of who holds which table partition. A user's partition is the one the
ingest stage routes their events to (murmur2 of the user id), so any worker can tell where a
user's record lives without asking anyone.
"""

from __future__ import annotations

from typing import Any

from nudgeflow.orchestrator.broker.partitioning import partition_for
from nudgeflow.orchestrator.settings import Settings


class Owners:
    def __init__(self, app: Any, settings: Settings, *, table: str = "users") -> None:
        self.app = app
        self.partitions = settings.topic_partitions
        self.self_url = settings.advertised_api_url
        self.table = table

    def partition_of(self, user_id: str) -> int:
        return partition_for(user_id.encode(), self.partitions)

    def owner_of(self, user_id: str) -> str | None:
        """The API URL of the worker holding the user's partition now, or None while nobody does
        (before the first assignment, during a rebalance)."""
        changelog = self.app.tables[self.table].changelog_topic.get_topic_name()
        partition = self.partition_of(user_id)
        for url, topics in self.app.assignor.tables_metadata().items():
            if partition in topics.get(changelog, ()):
                return str(url)
        return None

    def is_local(self, url: str) -> bool:
        return url.rstrip("/") == self.self_url.rstrip("/")
