"""Faust's table manager without its fixed one-second wait at start.

faust-streaming 0.15.3's `TableManager.on_start` sleeps 1 s so that tables declared late (by agents
starting up) are registered before it freezes the list. Nudgeflow declares every table in `build_app`,
before the app starts, so the wait only delays every worker's start (and every restart after a crash)
by a second. The list is still frozen the same way: a table added after start raises in Faust.
"""

from __future__ import annotations

from faust.tables import TableManager


class DeclaredTablesManager(TableManager):
    """Starts recovery as soon as the app starts: all tables were declared before."""

    async def on_start(self) -> None:
        if not self.should_stop:
            await self._update_channels()
            await self.recovery.start()
