"""The live inbox as server-sent events (sse-starlette does the framing, pings and disconnects).

Wire format (docs/inapp.md): every event has an id `<epoch>-<sequence>` of the inbox store.
A new connection starts with `snapshot` (the whole inbox); then one `prompt` event per change.
A browser that reconnects sends `Last-Event-ID`: when the id is from this store and its journal
still reaches back, the stream replays only the changes after it (no snapshot, no duplicate),
else it starts over with a snapshot. `: ping` comments keep proxies from closing an idle stream.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from sse_starlette import EventSourceResponse, ServerSentEvent

from nudgeflow.channels.inapp.store import Change, InboxStore
from nudgeflow.rules.contracts.prompts import Prompt

STREAM_QUEUE_SIZE = 1000
RECONNECT_MILLISECONDS = 3000
Item = tuple[int, Prompt, Change]


@dataclass
class Streams:
    """Open SSE streams; `close_all` ends them so the HTTP server can shut down promptly."""

    queues: set[asyncio.Queue[Item | None]] = field(default_factory=set)
    closing: bool = False

    def close_all(self) -> None:
        self.closing = True
        for queue in list(self.queues):
            while True:
                try:
                    queue.put_nowait(None)
                    break
                except asyncio.QueueFull:
                    queue.get_nowait()


def event_id(store: InboxStore, sequence: int) -> str:
    return f"{store.epoch}-{sequence}"


def resume_point(store: InboxStore, last_event_id: str | None) -> int | None:
    """The sequence a reconnecting client saw last, if its id comes from this store."""
    if not last_event_id:
        return None
    epoch, _, sequence = last_event_id.strip().rpartition("-")
    if epoch != store.epoch or not sequence.isdigit() or len(sequence) > 18:
        return None
    return int(sequence)


def _json(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), default=str)


def _prompt_event(store: InboxStore, sequence: int, prompt: Prompt, change: Change) -> ServerSentEvent:
    data = {"change": change, "unread": store.unread_count(prompt.user_id), "prompt": prompt.model_dump(mode="json")}
    return ServerSentEvent(_json(data), event="prompt", id=event_id(store, sequence), sep="\n")


def _snapshot_event(store: InboxStore, user_id: str, *, retry: int | None = None) -> ServerSentEvent:
    prompts = [p.model_dump(mode="json") for p in store.prompts(user_id)]
    data = {"user_id": user_id, "unread": store.unread_count(user_id), "prompts": prompts}
    return ServerSentEvent(_json(data), event="snapshot", id=event_id(store, store.sequence), retry=retry, sep="\n")


async def prompt_events(
    store: InboxStore, user_id: str, streams: Streams, last_event_id: str | None = None
) -> AsyncIterator[ServerSentEvent]:
    queue: asyncio.Queue[Item | None] = asyncio.Queue(maxsize=STREAM_QUEUE_SIZE)
    overflowed = False

    def listener(prompt: Prompt, change: Change) -> None:
        nonlocal overflowed
        if prompt.user_id != user_id:
            return
        try:
            queue.put_nowait((store.sequence, prompt, change))
        except asyncio.QueueFull:
            overflowed = True

    # Subscribe, then read the snapshot or the missed changes, with no await in between: nothing falls in a gap.
    unsubscribe = store.subscribe(listener)
    streams.queues.add(queue)
    try:
        if streams.closing:
            return
        resumed = resume_point(store, last_event_id)
        missed = store.changes_since(user_id, resumed) if resumed is not None else None
        if missed is None:
            yield _snapshot_event(store, user_id, retry=RECONNECT_MILLISECONDS)
        else:
            yield ServerSentEvent(retry=RECONNECT_MILLISECONDS, sep="\n")
            for entry in missed:
                yield _prompt_event(store, entry.sequence, entry.prompt, entry.change)
        while True:
            item = await queue.get()
            if item is None:
                return
            if overflowed:  # a slow client missed changes: start over from the whole inbox
                overflowed = False
                while not queue.empty():
                    if queue.get_nowait() is None:
                        return
                yield _snapshot_event(store, user_id)
                continue
            yield _prompt_event(store, *item)
    finally:
        unsubscribe()
        streams.queues.discard(queue)


def _ping() -> ServerSentEvent:
    return ServerSentEvent(comment="ping", sep="\n")


def event_stream_response(
    store: InboxStore, user_id: str, streams: Streams, *, last_event_id: str | None, heartbeat_seconds: float
) -> EventSourceResponse:
    return EventSourceResponse(
        prompt_events(store, user_id, streams, last_event_id),
        ping=heartbeat_seconds,
        ping_message_factory=_ping,
        sep="\n",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
