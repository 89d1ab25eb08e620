"""The live stream (sse-starlette): every event has an id; a reconnect with Last-Event-ID gets exactly the changes
it missed (no snapshot, no duplicate); an id from elsewhere or too old starts over with a snapshot; pings."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from nudgeflow.channels.inapp.api import close_event_streams
from nudgeflow.channels.inapp.auth import issue_token
from nudgeflow.orchestrator.broker.embedded import free_port
from nudgeflow.orchestrator.runtime.http import HttpServer
from nudgeflow.rules.contracts.prompts import Prompt, PromptStatus
from tests.support.inbox import InboxStore, inbox_api

SECRET = "unit-secret-of-at-least-thirty-two-bytes"
NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)


@dataclass
class Event:
    id: str | None
    name: str | None
    data: dict[str, Any] | None
    retry: int | None = None


def prompt(user: str, delivery_id: str, minutes: int = 0) -> Prompt:
    at = NOW + timedelta(minutes=minutes)
    return Prompt(
        delivery_id=delivery_id,
        user_id=user,
        kind="celebration",
        title=f"title {delivery_id}",
        body="b",
        playbook_id="p",
        playbook_version="v1",
        milestone_id="m",
        created_at=at,
        status_changed_at=at,
    )


async def discard(item: Prompt) -> None:
    return None


@pytest.fixture
async def served() -> AsyncIterator[tuple[InboxStore, httpx.AsyncClient]]:
    store = InboxStore(journal_size=5)
    api = inbox_api(store, discard, ready=lambda: True, signing_secret=SECRET, heartbeat_seconds=0.2)
    server = HttpServer(api, host="127.0.0.1", port=free_port())
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
            yield store, http
    finally:
        close_event_streams(api)
        await server.stop()


async def events(response: httpx.Response) -> AsyncIterator[Event]:
    fields: dict[str, str] = {}
    async for line in response.aiter_lines():
        if line == "" and fields:
            data = json.loads(fields["data"]) if "data" in fields else None
            retry = int(fields["retry"]) if "retry" in fields else None
            yield Event(fields.get("id"), fields.get("event"), data, retry)
            fields = {}
        elif ": " in line and not line.startswith(":"):
            key, value = line.split(": ", 1)
            fields[key] = value


def stream(http: httpx.AsyncClient, user: str, last_event_id: str | None = None) -> Any:
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    return http.stream(
        "GET",
        f"/v1/users/{quote(user, safe='')}/prompts/stream",
        params={"token": issue_token(SECRET, user)},
        headers=headers,
    )


async def next_event(source: AsyncIterator[Event]) -> Event:
    return await asyncio.wait_for(anext(source), 5)


async def test_every_event_has_an_id_from_its_place_in_the_changelog(
    served: tuple[InboxStore, httpx.AsyncClient],
) -> None:
    store, http = served
    store.apply(prompt("ana", "d0"))
    async with stream(http, "ana") as response:
        source = events(response)
        snapshot = await next_event(source)
        assert (snapshot.name, snapshot.id, snapshot.retry) == ("snapshot", "0-0", 3000)
        assert [p["delivery_id"] for p in snapshot.data["prompts"]] == ["d0"]  # type: ignore[index]
        store.apply(prompt("bob", "other"))  # someone else's: not on ana's stream
        store.apply(prompt("ana", "d1", 1))
        created = await next_event(source)
        assert (created.name, created.id) == ("prompt", "0-2")
        assert created.data == {"change": "created", "unread": 2, "prompt": created.data["prompt"]}  # type: ignore[index]
        store.apply(store.get("ana", "d1").with_status(PromptStatus.SEEN, at=NOW))  # type: ignore[union-attr]
        updated = await next_event(source)
        assert (updated.id, updated.data["change"], updated.data["unread"]) == ("0-3", "updated", 1)  # type: ignore[index]


async def test_a_reconnect_with_last_event_id_gets_only_what_it_missed(
    served: tuple[InboxStore, httpx.AsyncClient],
) -> None:
    store, http = served
    async with stream(http, "ana") as response:
        source = events(response)
        assert (await next_event(source)).name == "snapshot"
        store.apply(prompt("ana", "d1"))
        last_seen = (await next_event(source)).id
    store.apply(prompt("ana", "d2", 1))  # while the browser was away
    store.apply(prompt("bob", "b1"))
    store.apply(store.get("ana", "d1").with_status(PromptStatus.DISMISSED, at=NOW))  # type: ignore[union-attr]
    async with stream(http, "ana", last_event_id=last_seen) as response:
        source = events(response)
        first = await next_event(source)
        assert first.retry == 3000 and first.data is None, "no snapshot on a resume"
        missed = [await next_event(source), await next_event(source)]
        assert [(e.name, e.data["prompt"]["delivery_id"], e.data["change"]) for e in missed] == [  # type: ignore[index]
            ("prompt", "d2", "created"),
            ("prompt", "d1", "updated"),
        ]
        assert [e.id for e in missed] == ["0-1", "0-3"]
        store.apply(prompt("ana", "d3", 2))
        live = await next_event(source)
        assert live.data["prompt"]["delivery_id"] == "d3" and live.id == "0-4"  # type: ignore[index]


@pytest.mark.parametrize("last_event_id", ["1-7", "garbage", "0-1", "0--5"])
async def test_an_id_from_elsewhere_or_too_old_starts_over_with_a_snapshot(
    served: tuple[InboxStore, httpx.AsyncClient], last_event_id: str
) -> None:
    store, http = served
    for n in range(8):  # the journal keeps the last 5 changes (offsets 3-7): 0-1 is out of reach
        store.apply(prompt("ana", f"d{n}", n))
    async with stream(http, "ana", last_event_id=last_event_id) as response:
        first = await next_event(events(response))
    assert first.name == "snapshot" and len(first.data["prompts"]) == 8 and first.id == "0-7"  # type: ignore[index]


async def test_heartbeats_are_ping_comments(served: tuple[InboxStore, httpx.AsyncClient]) -> None:
    _, http = served
    comments: list[str] = []

    async def two_pings(response: httpx.Response) -> None:
        async for line in response.aiter_lines():
            if line.startswith(":"):
                comments.append(line)
                if len(comments) == 2:
                    return

    async with stream(http, "ana") as response:
        await asyncio.wait_for(two_pings(response), 5)
    assert comments == [": ping", ": ping"]


async def test_an_opaque_user_id_has_its_stream(served: tuple[InboxStore, httpx.AsyncClient]) -> None:
    store, http = served
    user = "team/42/ünï smith"
    store.apply(prompt(user, "d1"))
    async with stream(http, user) as response:
        first = await next_event(events(response))
    assert first.data["user_id"] == user and first.data["prompts"][0]["delivery_id"] == "d1"  # type: ignore[index]
