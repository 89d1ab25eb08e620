"""Reading an in-process `Worker`'s in-app API the way the product's widget does."""

from __future__ import annotations

import httpx

from nudgeflow.channels.inapp.auth import issue_token
from nudgeflow.orchestrator.runtime.worker import Worker


def auth(worker: Worker, user: str) -> dict[str, str]:
    """Authorization header with a token for `user`, as the product's backend would mint it."""
    return {"Authorization": f"Bearer {issue_token(worker.inapp_signing_secret, user)}"}


async def prompts_of(worker: Worker, user: str) -> list[dict[str, object]]:
    async with httpx.AsyncClient(base_url=worker.api_url or "") as client:
        response = await client.get(f"/v1/users/{user}/prompts", headers=auth(worker, user))
        response.raise_for_status()
        return list(response.json()["prompts"])
