"""The in-app API's way to a user's inbox on a worker: reads from the `inbox` table where the user
lives (serving/routing.py), status changes made by the worker holding the user, answered once its
inbox agent applied them (read-your-writes)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from nudgeflow.channels.inapp.access import Forwarded
from nudgeflow.channels.inapp.inbox import UserInbox
from nudgeflow.channels.inapp.listing import MAX_PAGE, PromptList
from nudgeflow.orchestrator.clock import Clock
from nudgeflow.orchestrator.inbox.applied import AppliedPrompts
from nudgeflow.orchestrator.serving.routing import OwnerRouter
from nudgeflow.rules.contracts.prompts import Prompt

log = logging.getLogger(__name__)


class RoutedInbox:
    def __init__(self, inbox: Any, router: OwnerRouter, applied: AppliedPrompts, clock: Clock) -> None:
        self.inbox = inbox  # the Faust `inbox` table
        self.router = router
        self.applied = applied
        self.clock = clock

    async def read(self, user_id: str, headers: Mapping[str, str]) -> tuple[PromptList, str]:
        return await self.router.read(
            user_id,
            headers,
            resource=f"prompts?view=all&limit={MAX_PAGE}",  # the whole row: a row holds at most that many
            local=lambda: self.read_here(user_id)[0],
            held_here=lambda: self.inbox.get(user_id) is not None,
            parse=PromptList.model_validate_json,
        )

    def read_here(self, user_id: str) -> tuple[PromptList, str]:
        return PromptList.of(UserInbox.load(user_id, self.inbox.get(user_id)), self.clock.now()), self.router.self_url

    async def forward_read(self, user_id: str, headers: Mapping[str, str], resource: str) -> Forwarded | None:
        return await self.router.forward_get(
            user_id, headers, resource=resource, held_here=lambda: self.inbox.get(user_id) is not None
        )

    async def forward(
        self, user_id: str, headers: Mapping[str, str], resource: str, body: dict[str, Any]
    ) -> Forwarded | None:
        return await self.router.forward_post(user_id, headers, resource=resource, body=body)

    async def settled(self, prompt: Prompt) -> None:
        if not await self.applied.wait(prompt):
            log.warning("status %s of %s not applied in time; it shows later", prompt.status, prompt.delivery_id)
