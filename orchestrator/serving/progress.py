"""`GET /v1/users/{id}/progress`: the onboarding checklist, computed from the user's record where it
lives (serving/routing.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nudgeflow.orchestrator.clock import Clock
from nudgeflow.orchestrator.rules_holder import RulesHolder
from nudgeflow.orchestrator.serving.routing import OwnerRouter
from nudgeflow.rules.checklist import checklist
from nudgeflow.rules.contracts.progress import UserChecklist
from nudgeflow.rules.contracts.users import UserRecord


class ProgressReader:
    def __init__(self, users: Any, router: OwnerRouter, rules: RulesHolder, clock: Clock) -> None:
        self.users = users  # the Faust `users` table
        self.router = router
        self.rules = rules
        self.clock = clock

    async def __call__(self, user_id: str, headers: Mapping[str, str]) -> tuple[UserChecklist, str]:
        """The checklist and which worker read it."""
        return await self.router.read(
            user_id,
            headers,
            resource="progress",
            local=lambda: self.local(user_id),
            held_here=lambda: self.users.get(user_id) is not None,
            parse=UserChecklist.model_validate_json,
        )

    def local(self, user_id: str) -> UserChecklist:
        stored = self.users.get(user_id)
        return self.checklist_of(UserRecord.model_validate(stored) if stored is not None else UserRecord.new(user_id))

    def checklist_of(self, record: UserRecord) -> UserChecklist:
        return checklist(self.rules.ruleset, record.progress, self.clock.now())
