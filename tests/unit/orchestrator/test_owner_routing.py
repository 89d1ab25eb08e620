"""A read asked of a worker that doesn't hold the user goes once to the holder, whose answer is passed
back byte for byte; a holder that is away is replaced by a standby copy here, or the caller gets a
clear 'try again' (503), never a wrong or empty answer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from nudgeflow.channels.inapp.inbox import UserInbox
from nudgeflow.channels.inapp.inbox_routes import SERVED_BY_HEADER, UserStateUnavailable
from nudgeflow.orchestrator.broker.embedded import free_port
from nudgeflow.orchestrator.clock import SystemClock
from nudgeflow.orchestrator.inbox.applied import AppliedPrompts
from nudgeflow.orchestrator.serving.inbox import RoutedInbox
from nudgeflow.orchestrator.serving.routing import FORWARDED_HEADER, OwnerRouter

SELF = "http://127.0.0.1:1"


@dataclass
class Holder:
    """The worker holding the user, as far as the router can tell: an HTTP server answering `status`."""

    url: str
    status: int = 200
    seen: list[Request] = field(default_factory=list)


@dataclass
class FixedOwners:
    owner: str | None
    self_url: str = SELF

    def owner_of(self, user_id: str) -> str | None:
        return self.owner

    def is_local(self, url: str) -> bool:
        return url == self.self_url


@pytest.fixture
async def holder() -> AsyncIterator[Holder]:
    port = free_port()
    state = Holder(f"http://127.0.0.1:{port}")

    async def prompts(request: Request) -> Response:
        state.seen.append(request)
        body = b'{"user_id": "ann", "prompts": [], "query": "%s"}' % request.url.query.encode()
        return Response(body, status_code=state.status, headers={SERVED_BY_HEADER: state.url})

    app = Starlette(routes=[Route("/v1/users/{user:path}/prompts", prompts)])
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning", lifespan="off"))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    yield state
    server.should_exit = True
    await serving


async def test_a_read_is_answered_by_the_holder_with_its_bytes_as_they_are(holder: Holder) -> None:
    router = OwnerRouter(FixedOwners(holder.url))  # type: ignore[arg-type]
    answer = await router.forward_get(
        "ann", {"authorization": "Bearer t"}, resource="prompts?view=all&limit=5", held_here=lambda: False
    )
    assert answer is not None
    assert (answer.status_code, answer.served_by) == (200, holder.url)
    assert answer.content == b'{"user_id": "ann", "prompts": [], "query": "view=all&limit=5"}'
    [request] = holder.seen
    assert request.headers["authorization"] == "Bearer t" and request.headers[FORWARDED_HEADER] == "1"
    await router.close()


async def test_the_holders_refusal_is_passed_on(holder: Holder) -> None:
    holder.status = 422  # e.g. a cursor of another view
    router = OwnerRouter(FixedOwners(holder.url))  # type: ignore[arg-type]
    answer = await router.forward_get("ann", {}, resource="prompts?cursor=x", held_here=lambda: False)
    assert answer is not None and answer.status_code == 422
    await router.close()


async def test_a_forwarded_read_or_one_about_a_user_held_here_is_answered_here(holder: Holder) -> None:
    forwarded = OwnerRouter(FixedOwners(holder.url))  # type: ignore[arg-type]
    assert (
        await forwarded.forward_get("ann", {FORWARDED_HEADER: "1"}, resource="prompts", held_here=lambda: False) is None
    )
    local = OwnerRouter(FixedOwners(SELF))  # type: ignore[arg-type]
    assert await local.forward_get("ann", {}, resource="prompts", held_here=lambda: False) is None
    unassigned = OwnerRouter(FixedOwners(None))  # type: ignore[arg-type]
    assert await unassigned.forward_get("ann", {}, resource="prompts", held_here=lambda: False) is None
    assert holder.seen == [], "never bounced on: no loop between workers mid-rebalance"
    for router in (forwarded, local, unassigned):
        await router.close()


@pytest.mark.parametrize("away", ["unreachable", "failing"])
async def test_when_the_holder_is_away_a_standby_copy_answers_or_the_caller_retries(holder: Holder, away: str) -> None:
    url = f"http://127.0.0.1:{free_port()}" if away == "unreachable" else holder.url
    holder.status = 503
    router = OwnerRouter(FixedOwners(url))  # type: ignore[arg-type]
    assert await router.forward_get("ann", {}, resource="prompts", held_here=lambda: True) is None
    with pytest.raises(UserStateUnavailable, match="did not answer|answered 503"):
        await router.forward_get("ann", {}, resource="prompts", held_here=lambda: False)
    await router.close()


async def test_a_read_for_the_api_itself_is_the_holders_answer_parsed_or_the_copy_here(holder: Holder) -> None:
    """`read` serves the API's own needs (a status change looks the prompt up): parsed, never passed on."""
    router = OwnerRouter(FixedOwners(holder.url))  # type: ignore[arg-type]

    def read(held_here: bool) -> Any:
        return router.read(
            "ann", {}, resource="prompts", local=lambda: "here", held_here=lambda: held_here, parse=bytes.decode
        )

    answer, served_by = await read(held_here=False)
    assert answer.startswith('{"user_id": "ann"') and served_by == holder.url
    holder.status = 422
    with pytest.raises(UserStateUnavailable, match="answered 422"):
        await read(held_here=True)
    holder.status = 503
    assert await read(held_here=True) == ("here", SELF)
    await router.close()


async def test_a_list_whose_holder_fails_is_answered_from_the_copy_here_asking_the_holder_once(holder: Holder) -> None:
    """The API asks `forward_read` first and, on None, `read_here`: a failing holder is not asked twice."""
    holder.status = 503
    router = OwnerRouter(FixedOwners(holder.url))  # type: ignore[arg-type]
    stored = UserInbox(user_id="ann")
    inbox = RoutedInbox({"ann": stored.dump()}, router, AppliedPrompts(), SystemClock())
    assert await inbox.forward_read("ann", {}, "prompts?limit=5") is None  # a standby copy is here
    listed, served_by = inbox.read_here("ann")
    assert (listed.user_id, listed.prompts, served_by) == ("ann", [], SELF)
    assert len(holder.seen) == 1
    await router.close()
