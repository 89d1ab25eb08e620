"""How the in-app API reaches a user's inbox: the worker serves it from the `inbox` table of the
worker holding the user (orchestrator/serving/inbox.py); tests give an in-memory one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from nudgeflow.channels.inapp.listing import PromptList
from nudgeflow.rules.contracts.prompts import Prompt


@dataclass(frozen=True)
class Forwarded:
    """The answer of the worker holding the user, passed on as it is."""

    status_code: int
    content: bytes
    served_by: str


class InboxAccess(Protocol):
    async def read(self, user_id: str, headers: Mapping[str, str]) -> tuple[PromptList, str]:
        """The user's whole inbox and the URL of the worker that read it."""
        ...

    async def forward_read(self, user_id: str, headers: Mapping[str, str], resource: str) -> Forwarded | None:
        """A read sent on to the worker holding the user (`GET /v1/users/{id}/{resource}`), its answer
        passed back unparsed; None when this worker answers it (with `read_here`)."""
        ...

    def read_here(self, user_id: str) -> tuple[PromptList, str]:
        """The user's whole inbox as this worker holds it (its partition or a standby copy), and its URL:
        after `forward_read` said None, so the holder is not asked a second time."""
        ...

    async def forward(
        self, user_id: str, headers: Mapping[str, str], resource: str, body: dict[str, Any]
    ) -> Forwarded | None:
        """A write sent on to the worker holding the user (`POST /v1/users/{id}/{resource}`); None when
        that is this worker: handle it here."""
        ...

    async def settled(self, prompt: Prompt) -> None:
        """Returns once reads show `prompt` (a status change just written), or after a timeout."""
        ...
