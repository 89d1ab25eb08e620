"""The in-app API's realtime stream against a real HTTP server (uvicorn): heartbeats, and no
listener left behind when a client goes away (detected over a real socket, so it takes real time)."""

from __future__ import annotations

import asyncio
import time

import httpx

from nudgeflow.channels.inapp.api import close_event_streams
from nudgeflow.channels.inapp.auth import issue_token
from nudgeflow.orchestrator.broker.embedded import free_port
from nudgeflow.orchestrator.runtime.http import HttpServer
from nudgeflow.rules.contracts.prompts import Prompt
from tests.support.inbox import InboxStore, inbox_api

SECRET = "unit-secret"


async def discard(prompt: Prompt) -> None:
    return None


async def test_stream_sends_snapshot_then_heartbeats_and_ends_on_close() -> None:
    store = InboxStore()
    api = inbox_api(store, discard, ready=lambda: True, signing_secret=SECRET, heartbeat_seconds=0.1)
    server = HttpServer(api, host="127.0.0.1", port=free_port())
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=5) as http:
            async with http.stream(
                "GET", "/v1/users/ana/prompts/stream", params={"token": issue_token(SECRET, "ana")}
            ) as response:
                assert response.headers["content-type"].startswith("text/event-stream")
                lines: list[str] = []

                async def read() -> None:
                    async for line in response.aiter_lines():
                        lines.append(line)
                        if lines.count(": ping") == 2:
                            close_event_streams(api)

                await asyncio.wait_for(read(), 5)  # returns because the server ended the stream
        assert "event: snapshot" in lines and lines.count(": ping") >= 2
    finally:
        await server.stop()


async def test_a_client_that_goes_away_leaves_no_listener_behind() -> None:
    store = InboxStore()
    api = inbox_api(store, discard, ready=lambda: True, signing_secret=SECRET, heartbeat_seconds=0.1)
    server = HttpServer(api, host="127.0.0.1", port=free_port())
    await server.start()
    try:
        for _ in range(3):
            async with httpx.AsyncClient(base_url=server.url, timeout=5) as http:
                async with http.stream(
                    "GET", "/v1/users/ana/prompts/stream", params={"token": issue_token(SECRET, "ana")}
                ) as response:
                    async for line in response.aiter_lines():
                        if line.startswith("data:"):
                            break
        deadline = time.monotonic() + 5
        while (store.feed.listening or api.state.streams.queues) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert not store.feed.listening and not api.state.streams.queues
    finally:
        await server.stop()
