"""A TCP proxy standing for a load balancer in front of worker replicas: each new connection goes to
the current backend, which a test switches when it kills one (the connections to the dead one end,
so browsers reconnect through the proxy to the live one). It records each live-stream request it
sees: the backend, the Last-Event-ID sent, and whether the answer began with a snapshot."""

from __future__ import annotations

import asyncio
import contextlib
import re
from dataclasses import dataclass, field

STREAM_REQUEST = re.compile(rb"^GET [^ ]*/prompts/stream[ ?]")
LAST_EVENT_ID = re.compile(rb"\r\nlast-event-id: *([^\r]*)\r\n", re.IGNORECASE)


@dataclass
class StreamRequest:
    backend: int
    last_event_id: str | None
    answer_start: bytes = b""

    @property
    def began_with_snapshot(self) -> bool:
        return b"event: snapshot" in self.answer_start


@dataclass
class SwitchingProxy:
    backend_port: int
    streams: list[StreamRequest] = field(default_factory=list)
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self, port: int) -> None:
        self._server = await asyncio.start_server(self._connection, "127.0.0.1", port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _connection(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            backend_reader, backend_writer = await asyncio.open_connection("127.0.0.1", self.backend_port)
        except OSError:
            client_writer.close()
            return
        record: list[StreamRequest] = []
        backend = self.backend_port

        async def upstream() -> None:
            while data := await client_reader.read(65536):
                if STREAM_REQUEST.match(data):
                    found = LAST_EVENT_ID.search(data)
                    record.append(StreamRequest(backend, found.group(1).decode() if found else None))
                    self.streams.append(record[-1])
                backend_writer.write(data)
                await backend_writer.drain()

        async def downstream() -> None:
            while data := await backend_reader.read(65536):
                if record and len(record[-1].answer_start) < 4096:
                    record[-1].answer_start += data
                client_writer.write(data)
                await client_writer.drain()

        tasks = [asyncio.ensure_future(upstream()), asyncio.ensure_future(downstream())]
        self._tasks.update(tasks)
        with contextlib.suppress(Exception):
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)  # either side ended: end both
        for task in tasks:
            task.cancel()
            self._tasks.discard(task)
        for writer in (client_writer, backend_writer):
            writer.close()
