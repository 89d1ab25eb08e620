"""Hot reload: poll the playbook files and load them again when one changes.

A file can vanish at any moment (an editor's save-by-rename, a deploy
replacing the folder): the watch treats every file-system error as "look again
next time", never as a reason to stop. Invalid files keep the rules in force
(see RulesHolder.reload).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from nudgeflow.orchestrator.rules_holder import RulesHolder
from nudgeflow.rules.loader import playbook_files

log = logging.getLogger(__name__)
POLL_SECONDS = 2.0

Fingerprint = tuple[tuple[str, int, int], ...]


def fingerprint(path: Path) -> Fingerprint:
    """(name, mtime, size) of each playbook file the loader would read; a file removed after the
    listing is left out, as it would be from the next listing."""
    found = []
    for file in playbook_files(path) if path.is_dir() else [path]:
        try:
            stat = file.stat()
        except FileNotFoundError:
            continue
        found.append((str(file), stat.st_mtime_ns, stat.st_size))
    return tuple(found)


class RulesWatcher:
    """`run()` polls forever; `sleep` is injectable so tests drive each poll."""

    def __init__(
        self,
        rules: RulesHolder,
        *,
        poll_seconds: float = POLL_SECONDS,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        assert rules.path is not None, "nothing to watch: the rules were not loaded from files"
        self.rules = rules
        self.path: Path = rules.path
        self.poll_seconds = poll_seconds
        self._sleep = sleep
        self._seen: Fingerprint | None = None

    async def run(self) -> None:
        if self._seen is None:
            self._seen = self._look() or ()
        while True:
            await self._sleep(self.poll_seconds)
            await self.poll()

    async def poll(self) -> bool:
        """Reload if a file changed since the last look; True if new rules are in force."""
        current = self._look()
        if current is None or current == self._seen:
            return False
        self._seen = current
        # Off the event loop: parsing a large ruleset takes seconds, longer than the session timeout.
        return await asyncio.to_thread(self.rules.reload)

    def _look(self) -> Fingerprint | None:
        try:
            return fingerprint(self.path)
        except OSError as exc:  # the folder itself is gone or unreadable for a moment
            log.warning("cannot list the playbooks in %s (%s); the rules in force stay", self.path, exc)
            return None
