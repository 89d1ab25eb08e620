"""Reading the in-app API the way the product's widget does: with a per-user token."""

from __future__ import annotations

import httpx

from nudgeflow.channels.inapp.auth import issue_token

TEST_SIGNING_SECRET = "nudgeflow-test-signing-secret"


def auth_headers(user: str, secret: str = TEST_SIGNING_SECRET) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(secret, user)}"}


async def list_prompts(
    api_url: str, user: str, secret: str = TEST_SIGNING_SECRET, *, retry_later: bool = False
) -> list[dict[str, object]]:
    """The user's prompts; with `retry_later`, a 503 (the user's worker is gone and nobody took its
    partitions over yet) reads as none so far."""
    async with httpx.AsyncClient(base_url=api_url) as client:
        response = await client.get(f"/v1/users/{user}/prompts", headers=auth_headers(user, secret))
        if retry_later and response.status_code == 503:
            assert response.headers["retry-after"] == "1"
            return []
        response.raise_for_status()
        return list(response.json()["prompts"])
