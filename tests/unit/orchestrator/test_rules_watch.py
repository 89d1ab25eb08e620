"""Hot reload keeps watching when playbook files come and go, even mid-look."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest

from nudgeflow.orchestrator.rules_holder import RulesHolder
from nudgeflow.orchestrator.runtime.rules_watch import RulesWatcher

PLAYBOOK = """\
id: {id}
name: {id}
milestones:
  - id: connect
    title: Connect
    when: {{event: Data Source Connected}}
"""


class Polls:
    """Injected sleep: each poll waits for the test's `tick()`; `tick()` returns once the poll is done
    (or the watch task ended)."""

    def __init__(self) -> None:
        self._go = asyncio.Event()
        self._waiting = asyncio.Event()
        self.watch: asyncio.Task[None] | None = None

    def start(self, watcher: RulesWatcher) -> asyncio.Task[None]:
        self.watch = asyncio.create_task(watcher.run())
        return self.watch

    async def sleep(self, seconds: float) -> None:
        self._waiting.set()
        await self._go.wait()
        self._go.clear()

    async def started(self) -> None:
        assert self.watch is not None
        waiting = asyncio.ensure_future(self._waiting.wait())
        await asyncio.wait({waiting, self.watch}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()

    async def tick(self) -> None:
        await self.started()
        self._waiting.clear()
        self._go.set()
        await self.started()  # the poll (and any reload) finished


def playbook_ids(rules: RulesHolder) -> list[str]:
    return sorted(p.id for p in rules.ruleset.playbooks)


async def test_a_file_deleted_between_listing_and_stat_does_not_stop_hot_reload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a.yaml").write_text(PLAYBOOK.format(id="a"))
    doomed = tmp_path / "b.yaml"
    doomed.write_text(PLAYBOOK.format(id="b"))
    rules = RulesHolder.from_path(tmp_path)
    polls = Polls()
    watch = polls.start(RulesWatcher(rules, sleep=polls.sleep))
    await polls.started()

    # The race: b.yaml is listed (its first stat, existence), then removed before its mtime and size
    # are read (second stat), as an editor's save-by-rename or a deploy does.
    real_stat = Path.stat
    stats_of_doomed = 0

    def racing_stat(self: Path, **kwargs: Any) -> os.stat_result:
        nonlocal stats_of_doomed
        if self == doomed:
            stats_of_doomed += 1
            if stats_of_doomed == 2:
                doomed.unlink()
        return real_stat(self, **kwargs)

    monkeypatch.setattr(Path, "stat", racing_stat)
    await polls.tick()
    monkeypatch.undo()

    assert not watch.done(), f"the watch ended: {watch.exception()!r}"
    assert playbook_ids(rules) == ["a"]  # b's removal was picked up
    doomed.write_text(PLAYBOOK.format(id="b"))
    await polls.tick()
    assert playbook_ids(rules) == ["a", "b"]  # and hot reload still works
    watch.cancel()
    await asyncio.gather(watch, return_exceptions=True)


async def test_the_folder_vanishing_for_a_moment_keeps_the_rules_in_force(tmp_path: Path) -> None:
    folder = tmp_path / "playbooks"
    folder.mkdir()
    (folder / "a.yaml").write_text(PLAYBOOK.format(id="a"))
    rules = RulesHolder.from_path(folder)
    polls = Polls()
    watch = polls.start(RulesWatcher(rules, sleep=polls.sleep))
    await polls.tick()
    moved = folder.rename(tmp_path / "elsewhere")
    await polls.tick()
    assert not watch.done() and playbook_ids(rules) == ["a"]  # "no such folder" is rejected, rules stay
    moved.rename(folder)
    (folder / "c.yaml").write_text(PLAYBOOK.format(id="c"))
    await polls.tick()
    assert playbook_ids(rules) == ["a", "c"]
    watch.cancel()
    await asyncio.gather(watch, return_exceptions=True)
