"""Reading the in-app API the way the product's widget does: with a per-user token."""

from __future__ import annotations

import httpx

from nudgeflow.channels.inapp.auth import issue_token

TEST_SIGNING_SECRET = "nudgeflow-test-signing-secret"


def auth_headers(user: str, secret: str = TEST_SIGNING_SECRET) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(secret, user)}"}


async def list_prompts(api_url: str, user: str, secret: str = TEST_SIGNING_SECRET) -> list[dict[str, object]]:
    async with httpx.AsyncClient(base_url=api_url) as client:
        response = await client.get(f"/v1/users/{user}/prompts", headers=auth_headers(user, secret))
        response.raise_for_status()
        return list(response.json()["prompts"])
