"""`GET /v1/users/{id}/progress` answered where the user's record is: read from this worker's RocksDB
when it owns the user's partition, else forwarded once to the worker that does.

A forwarded request carries `X-Nudgeflow-Forwarded` and is always answered locally, so a request
crossing a rebalance is never bounced around: the receiver answers from what it holds (the record,
or a standby copy of it). When the owner does not answer (killed, until the group reassigns its
partitions), a standby copy held here answers; with none, 503 and the client retries.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx

from nudgeflow.channels.inapp.api import SERVED_BY_HEADER, ProgressUnavailable
from nudgeflow.orchestrator.clock import Clock
from nudgeflow.orchestrator.rules_holder import RulesHolder
from nudgeflow.orchestrator.serving.owners import Owners
from nudgeflow.rules.checklist import checklist
from nudgeflow.rules.contracts.progress import UserChecklist
from nudgeflow.rules.contracts.users import UserRecord

log = logging.getLogger(__name__)
FORWARDED_HEADER = "x-nudgeflow-forwarded"
FORWARD_TIMEOUT_SECONDS = 5.0


class ProgressReader:
    def __init__(self, users: Any, owners: Owners, rules: RulesHolder, clock: Clock) -> None:
        self.users = users  # the Faust `users` table
        self.owners = owners
        self.rules = rules
        self.clock = clock
        self.forwarded = 0
        self._http = httpx.AsyncClient(timeout=FORWARD_TIMEOUT_SECONDS)

    async def __call__(self, user_id: str, headers: Mapping[str, str]) -> tuple[UserChecklist, str]:
        """The checklist and which worker read it."""
        owner = self.owners.owner_of(user_id)
        if owner is None or self.owners.is_local(owner) or FORWARDED_HEADER in headers:
            return self.local(user_id), self.owners.self_url
        return await self._forward(owner, user_id, headers)

    def local(self, user_id: str) -> UserChecklist:
        stored = self.users.get(user_id)
        record = UserRecord.model_validate(stored) if stored is not None else UserRecord.new(user_id)
        return checklist(self.rules.ruleset, record.progress, self.clock.now())

    async def _forward(self, owner: str, user_id: str, headers: Mapping[str, str]) -> tuple[UserChecklist, str]:
        url = f"{owner.rstrip('/')}/v1/users/{quote(user_id, safe='')}/progress"
        forward = {FORWARDED_HEADER: "1", "authorization": headers.get("authorization", "")}
        try:
            response = await self._http.get(url, headers=forward)
        except httpx.HTTPError as exc:
            # Gone (killed, partitioned away): until the group reassigns its partitions, a standby copy
            # of the record held here answers; without one, the client retries.
            if self.users.get(user_id) is not None:
                return self.local(user_id), self.owners.self_url
            raise ProgressUnavailable(f"the worker holding this user ({owner}) did not answer: {exc!r}") from exc
        if response.status_code != 200:
            raise ProgressUnavailable(f"the worker holding this user ({owner}) answered {response.status_code}")
        self.forwarded += 1
        return UserChecklist.model_validate_json(response.content), response.headers.get(SERVED_BY_HEADER, owner)

    async def close(self) -> None:
        await self._http.aclose()
