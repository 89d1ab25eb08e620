"""The live inbox as server-sent events (sse-starlette does the framing, pings and disconnects).

Wire format (docs/inapp.md): every event has an id `<partition>-<offset>`, the change's position
in the `inbox` table's changelog, the same on every replica (channels/inapp/feed.py). A new
connection starts with `snapshot` (the inbox view: archived and snoozed prompts aside, read where
the user's state lives); then one `prompt` event per change, and a `progress` event (the whole
checklist, no id) whenever the user's checklist may have changed. A browser that reconnects — to this
replica or another — sends `Last-Event-ID`: when the replica's journal reaches back to it, the
stream replays only the changes after it (no snapshot), else it starts over with a snapshot. A
change the client already has is never sent again. `: ping` comments keep proxies from closing an
idle stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sse_starlette import EventSourceResponse, ServerSentEvent

from nudgeflow.channels.inapp.feed import FeedEntry, InboxFeed, Position
from nudgeflow.channels.inapp.listing import PromptList, in_view, unread
from nudgeflow.channels.inapp.progress_feed import ProgressFeed
from nudgeflow.rules.contracts.progress import UserChecklist
from nudgeflow.rules.contracts.prompts import Prompt

STREAM_QUEUE_SIZE = 1000
RECONNECT_MILLISECONDS = 3000
ReadInbox = Callable[[str, Mapping[str, str]], Awaitable[tuple[PromptList, str]]]
"""A user's whole inbox and the worker that read it (the one holding the user, or this one)."""


@dataclass
class Streams:
    """Open SSE streams; `close_all` ends them so the HTTP server can shut down promptly."""

    queues: set[asyncio.Queue[FeedEntry | UserChecklist | None]] = field(default_factory=set)
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


def _json(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), default=str)


def _prompt_event(entry: FeedEntry) -> ServerSentEvent:
    data = {"change": entry.change, "unread": entry.unread, "prompt": entry.prompt.model_dump(mode="json")}
    return ServerSentEvent(_json(data), event="prompt", id=entry.position.event_id, sep="\n")


def _snapshot_event(inbox: PromptList, position: Position, *, retry: int | None = None) -> ServerSentEvent:
    prompts = [p.model_dump(mode="json") for p in inbox.prompts]
    data = {"user_id": inbox.user_id, "unread": inbox.unread, "prompts": prompts}
    return ServerSentEvent(_json(data), event="snapshot", id=position.event_id, retry=retry, sep="\n")


async def prompt_events(
    feed: InboxFeed,
    read: ReadInbox,
    user_id: str,
    streams: Streams,
    *,
    headers: Mapping[str, str],
    last_event_id: str | None = None,
    progress: ProgressFeed | None = None,
) -> AsyncIterator[ServerSentEvent]:
    queue: asyncio.Queue[FeedEntry | UserChecklist | None] = asyncio.Queue(maxsize=STREAM_QUEUE_SIZE)
    overflowed = False
    shown: dict[str, Prompt] = {}  # what the client has of each prompt (from a snapshot): not resent
    seen_up_to = -1  # offset, on the user's partition, of the latest change the client has

    def listener(entry: FeedEntry) -> None:
        nonlocal overflowed
        if entry.prompt.user_id != user_id:
            return
        try:
            queue.put_nowait(entry)
        except asyncio.QueueFull:
            overflowed = True

    async def snapshot(retry: int | None = None) -> ServerSentEvent:
        nonlocal seen_up_to
        position = feed.position_of(user_id)  # the holder's row shows at least this much
        everything, _ = await read(user_id, headers)
        shown.clear()
        shown.update({p.delivery_id: p for p in everything.prompts})
        seen_up_to = position.offset
        now = datetime.now(UTC)
        inbox = PromptList(
            user_id=user_id, unread=unread(everything.prompts, now), prompts=in_view(everything.prompts, now=now)
        )
        return _snapshot_event(inbox, position, retry=retry)

    def on_progress(checklist: UserChecklist) -> None:
        with contextlib.suppress(asyncio.QueueFull):  # the next change brings the whole checklist again
            queue.put_nowait(checklist)

    # Subscribe first, then read the snapshot or the missed changes: nothing falls in a gap.
    unsubscribe = feed.subscribe(listener)
    unsubscribe_progress = progress.subscribe(user_id, on_progress) if progress is not None else None
    streams.queues.add(queue)
    try:
        if streams.closing:
            return
        resumed = Position.parse(last_event_id)
        missed = feed.changes_since(user_id, resumed) if resumed is not None else None
        if resumed is None or missed is None:
            yield await snapshot(retry=RECONNECT_MILLISECONDS)
        else:
            seen_up_to = resumed.offset
            yield ServerSentEvent(retry=RECONNECT_MILLISECONDS, sep="\n")
            for entry in missed:
                seen_up_to = entry.position.offset
                yield _prompt_event(entry)
        while True:
            item = await queue.get()
            if item is None:
                return
            if isinstance(item, UserChecklist):
                yield ServerSentEvent(_json(item.model_dump(mode="json")), event="progress", sep="\n")
                continue
            if overflowed:  # a slow client missed changes: start over from the whole inbox
                overflowed = False
                while not queue.empty():
                    if queue.get_nowait() is None:
                        return
                yield await snapshot()
                continue
            if item.position.offset <= seen_up_to:
                continue  # replayed above, or older than the snapshot
            seen_up_to = item.position.offset
            known = shown.get(item.prompt.delivery_id)
            if known is not None and known.merge(item.prompt) is known:
                continue  # the snapshot showed it already
            shown.pop(item.prompt.delivery_id, None)
            yield _prompt_event(item)
    finally:
        unsubscribe()
        if unsubscribe_progress is not None:
            unsubscribe_progress()
        streams.queues.discard(queue)


def _ping() -> ServerSentEvent:
    return ServerSentEvent(comment="ping", sep="\n")


def event_stream_response(
    feed: InboxFeed,
    read: ReadInbox,
    user_id: str,
    streams: Streams,
    *,
    headers: Mapping[str, str],
    last_event_id: str | None,
    heartbeat_seconds: float,
    progress: ProgressFeed | None = None,
) -> EventSourceResponse:
    return EventSourceResponse(
        prompt_events(feed, read, user_id, streams, headers=headers, last_event_id=last_event_id, progress=progress),
        ping=heartbeat_seconds,
        ping_message_factory=_ping,
        sep="\n",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
