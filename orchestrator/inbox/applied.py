"""Read-your-writes for status changes: the worker holding a user answers a status change once its
inbox agent has applied it, so the user's next read (from any replica, all routed here) shows it."""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict

from nudgeflow.rules.contracts.prompts import Prompt

SETTLE_TIMEOUT_SECONDS = 5.0


class AppliedPrompts:
    def __init__(self) -> None:
        self._waiters: dict[tuple[str, str], list[tuple[Prompt, asyncio.Future[None]]]] = defaultdict(list)

    def applied(self, prompt: Prompt) -> None:
        """The inbox agent stored `prompt` (merged): wake the writers whose change it already shows."""
        key = (prompt.user_id, prompt.delivery_id)
        waiting = self._waiters.get(key)
        if not waiting:
            return
        keep = []
        for written, future in waiting:
            if prompt.merge(written) is prompt:  # nothing of `written` is missing from the stored prompt
                if not future.done():
                    future.set_result(None)
            else:
                keep.append((written, future))
        if keep:
            self._waiters[key] = keep
        else:
            del self._waiters[key]

    async def wait(self, prompt: Prompt, timeout: float = SETTLE_TIMEOUT_SECONDS) -> bool:
        """Until the agent stored `prompt`'s change (or a later one); False after `timeout` (the
        change is durable in the prompts topic either way, it only shows later)."""
        key = (prompt.user_id, prompt.delivery_id)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (prompt, future)
        self._waiters[key].append(entry)
        try:
            await asyncio.wait_for(asyncio.shield(future), timeout)
            return True
        except TimeoutError:
            return False
        finally:
            with contextlib.suppress(ValueError, KeyError):
                self._waiters[key].remove(entry)
                if not self._waiters[key]:
                    del self._waiters[key]
