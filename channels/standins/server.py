"""Common machinery of the provider stand-ins: a local aiohttp server that
records every request and applies a `FaultPlan` before the provider logic.

Subclasses add routes and render faults in their provider's error format.
Use as `async with SlackStandIn() as server: ... server.url ...`.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Self

from aiohttp import web

from nudgeflow.channels.standins.faults import Fault, FaultPlan

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class RecordedRequest:
    """One request as the stand-in saw it; `headers` keys are lower-case, `body` parsed."""

    method: str
    path: str
    headers: dict[str, str]
    query: dict[str, str]
    body: Any
    received_at: float = field(default_factory=time.time)
    status: int | None = None  # the status answered, filled in after the response
    response: Any = None
    response_headers: dict[str, str] = field(default_factory=dict)


# aiohttp >= 3.12 wants typed request keys; older versions take a plain string.
RECORD_KEY: Any = web.RequestKey("record", RecordedRequest) if hasattr(web, "RequestKey") else "record"


def record_of(request: web.Request) -> RecordedRequest:
    """The `RecordedRequest` of the request being handled (for subclass handlers)."""
    record: RecordedRequest = request[RECORD_KEY]
    return record


class StandInServer:
    """Base class; `requests` lists everything received, in order."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, clock: Callable[[], float] = time.monotonic) -> None:
        self.host = host
        self.port = port
        self.faults = FaultPlan(clock=clock)
        self.requests: list[RecordedRequest] = []
        self._runner: web.AppRunner | None = None
        self._stopping = asyncio.Event()

    # -- lifecycle -------------------------------------------------------
    @property
    def url(self) -> str:
        if self._runner is None:
            raise RuntimeError("stand-in is not started")
        return f"http://{self.host}:{self.port}"

    async def start(self) -> Self:
        app = web.Application(middlewares=[self._middleware])
        self.add_routes(app.router)
        self._stopping = asyncio.Event()
        runner = web.AppRunner(app, shutdown_timeout=1.0, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        self._runner = runner
        self.port = runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        self._stopping.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- control API (delegates to the fault plan) ------------------------
    def fail_next(self, *, status: int = 500, count: int = 1, error: str | None = None) -> None:
        self.faults.fail_next(status=status, count=count, error=error)

    def fail_for(self, *, seconds: float, status: int = 500, error: str | None = None) -> None:
        self.faults.fail_for(seconds=seconds, status=status, error=error)

    def rate_limit_next(self, *, retry_after: float = 1.0, count: int = 1) -> None:
        self.faults.rate_limit_next(retry_after=retry_after, count=count)

    def delay(self, *, seconds: float, count: int | None = None) -> None:
        self.faults.delay(seconds=seconds, count=count)

    def heal(self) -> None:
        self.faults.clear()

    # -- for subclasses --------------------------------------------------
    def add_routes(self, router: web.UrlDispatcher) -> None:
        raise NotImplementedError

    def fault_response(self, fault: Fault) -> web.Response:
        raise NotImplementedError

    # -- request pipeline ------------------------------------------------
    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        record = RecordedRequest(
            method=request.method,
            path=request.path,
            headers={k.lower(): v for k, v in request.headers.items()},
            query=dict(request.query),
            body=await _parse_body(request),
        )
        request[RECORD_KEY] = record
        self.requests.append(record)
        seconds = self.faults.take_delay()
        if seconds > 0:
            # Like a real provider, a slow request is still processed after the client gave up.
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
            except TimeoutError:
                pass
        fault = self.faults.take_fault()
        response = self.fault_response(fault) if fault is not None else await handler(request)
        record.status = response.status
        record.response_headers = dict(response.headers)
        if isinstance(response, web.Response) and response.body is not None and response.text:
            try:
                record.response = json.loads(response.text)
            except ValueError:
                record.response = response.text
        return response


async def _parse_body(request: web.Request) -> Any:
    if not request.body_exists:
        return None
    raw = await request.read()
    if request.content_type == "application/json":
        try:
            return json.loads(raw)
        except ValueError:
            return raw.decode("utf-8", "replace")
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return dict(await request.post())
    return raw.decode("utf-8", "replace")
