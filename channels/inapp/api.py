"""HTTP API of the in-app channel: list a user's prompts, change a prompt's status.

FastAPI serves the OpenAPI document at /openapi.json and docs at /docs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from importlib import resources
from typing import Literal

from fastapi import APIRouter, FastAPI, HTTPException, Query, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from channels.inapp.models import Prompt, PromptStatus
from channels.inapp.store import InboxStore

PublishPrompt = Callable[[Prompt], Awaitable[None]]
ReadinessCheck = Callable[[], bool]


class PromptList(BaseModel):
    user_id: str
    unread: int
    prompts: list[Prompt]


class StatusChange(BaseModel):
    status: Literal["seen", "clicked", "dismissed"]


def _inbox_router(store: InboxStore, publish: PublishPrompt) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["in-app"])

    @router.get("/users/{user_id}/prompts", response_model=PromptList)
    async def list_prompts(user_id: str, status: list[PromptStatus] | None = Query(default=None)) -> PromptList:
        """A user's prompts, newest first; `status` filters (repeatable)."""
        prompts = store.prompts(user_id, set(status) if status else None)
        return PromptList(user_id=user_id, unread=store.unread_count(user_id), prompts=prompts)

    @router.post("/users/{user_id}/prompts/{delivery_id}/status", response_model=Prompt)
    async def change_status(user_id: str, delivery_id: str, change: StatusChange) -> Prompt:
        """Mark a prompt seen, clicked or dismissed. Status never moves backwards."""
        prompt = store.get(user_id, delivery_id)
        if prompt is None:
            raise HTTPException(status_code=404, detail="no such prompt for this user")
        updated = prompt.with_status(PromptStatus(change.status), at=datetime.now(UTC))
        if updated.status.rank <= prompt.status.rank:
            return prompt
        await publish(updated)
        return store.apply(updated)

    return router


def create_inbox_api(store: InboxStore, publish: PublishPrompt, *, ready: ReadinessCheck,
                     demo_page: bool = False) -> FastAPI:
    """The in-app API. `demo_page` adds the demo's browser page and its user list."""
    api = FastAPI(title="Nudgeflow in-app API", version="1", description=__doc__)
    api.include_router(_inbox_router(store, publish))

    @api.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @api.get("/readyz", tags=["ops"])
    async def readyz(response: Response) -> dict[str, str]:
        if ready():
            return {"status": "ready"}
        response.status_code = 503
        return {"status": "starting"}

    if demo_page:
        page = resources.files("channels.inapp").joinpath("static/demo.html").read_text(encoding="utf-8")

        @api.get("/", response_class=HTMLResponse, include_in_schema=False)
        async def demo() -> str:
            return page

        @api.get("/v1/demo/users", tags=["demo"])
        async def demo_users() -> list[str]:
            """Demo only: every user with prompts, so the page can show them all."""
            return store.users()

    return api
