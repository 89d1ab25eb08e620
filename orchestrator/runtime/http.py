"""Serve an ASGI app inside our own event loop, next to the Faust app."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import uvicorn

# Idle keep-alive connections are kept longer than clients keep theirs (httpx: 5 s, the workers'
# forwarder: 30 s) and than load balancers do (AWS ALB: 60 s): with uvicorn's default of 5 s, the
# server closed a connection just as a client reused it (httpx.ReadError in the takeover bench).
KEEP_ALIVE_SECONDS = 65


class _LoopServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the process's own shutdown handler owns SIGINT/SIGTERM


class HttpServer:
    def __init__(self, app: Any, *, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._server = _LoopServer(
            # log_config=None: uvicorn keeps its hands off logging, its records go through ours (orchestrator/logs.py)
            uvicorn.Config(
                app,
                host=host,
                port=port,
                log_level="warning",
                lifespan="off",
                access_log=False,
                log_config=None,
                timeout_keep_alive=KEEP_ALIVE_SECONDS,
            )
        )
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        self._task = asyncio.create_task(self._server.serve(), name="http-server")
        while not self._server.started:
            if self._task.done():
                self._task.result()  # raises the bind error, if any
            await asyncio.sleep(0.02)

    async def serving(self) -> None:
        """Until the server stops; raises if it stopped without being asked to (for the supervisor)."""
        assert self._task is not None, "start() first"
        await asyncio.shield(self._task)  # raises the server's own error, if it had one
        if not self._server.should_exit:
            raise RuntimeError(f"the HTTP server on {self.url} stopped by itself")

    async def stop(self) -> None:
        if self._task is None:
            return
        self._server.should_exit = True
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._task), 5)
        if not self._task.done():
            self._task.cancel()
