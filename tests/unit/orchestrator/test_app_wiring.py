"""build_app's wiring without a broker: Faust's agent test context drives the real agent, table and
handler; the agent's outputs go to in-memory topics (see stack.md: `store="memory://"`)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from nudgeflow.channels.preferences.store import PreferencesStore
from nudgeflow.orchestrator.app import NudgeflowApp, build_app
from nudgeflow.orchestrator.clock import ManualClock
from nudgeflow.orchestrator.outbox.sender import OutboxSender
from nudgeflow.orchestrator.rules_holder import RulesHolder
from nudgeflow.orchestrator.settings import Settings
from tests.support.kafka import eventually
from tests.support.memory import MemoryBroker
from tests.support.playbooks import onboarding_playbook
from tests.support.rules import T0, identify, track


@dataclass
class Wired:
    nudgeflow: NudgeflowApp
    agent: Any
    broker: MemoryBroker
    clock: ManualClock

    async def put(self, value: bytes, key: bytes | None) -> None:
        """Returns once the agent has handled the record and stored what it changed. (The test context
        wakes `put` when the agent takes a record into its batch; a record no rule listens to follows.)"""
        handler = self.nudgeflow.handler
        target = handler.records + 2
        await self.agent.put(value, key=key)
        await self.agent.put(track("Page Viewed", T0, user="idle").model_dump_json(by_alias=True).encode(), key=b"idle")
        await eventually(lambda: handler.records >= target, timeout=5, interval=0.001)

    def published(self, topic: str) -> list[dict[str, Any]]:
        return [json.loads(value or b"") for value in self.broker.values(topic)]


@pytest.fixture
async def wired(tmp_path: Path) -> AsyncIterator[Wired]:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "trial.yaml").write_text(onboarding_playbook())
    settings = Settings(_env_file=None, table_dir=tmp_path / "tables", rules_path=tmp_path / "rules")  # type: ignore[call-arg]
    broker, clock = MemoryBroker(), ManualClock(T0)
    nudgeflow = build_app(
        settings,
        bootstrap_servers="127.0.0.1:9",  # never contacted
        rules=RulesHolder.from_path(settings.rules_path),
        preferences=PreferencesStore(),
        clock=clock,
        outputs=broker.outputs(),
    )
    app = nudgeflow.app
    app.finalize()
    app.conf.store = "memory://"
    app.flow_control.resume()
    async with app.agents["process-events"].test_context() as agent:
        yield Wired(nudgeflow, agent, broker, clock)


async def test_the_agent_runs_the_pipeline_and_writes_the_users_table(wired: Wired) -> None:
    for event in (identify(T0, role="admin"), track("Data Source Connected", T0)):
        await wired.put(event.model_dump_json(by_alias=True).encode(), key=b"u1")
    assert [p["title"] for p in wired.published("prompts")] == ["Connected"]
    assert [d["channel"] for d in wired.published("deliveries")] == ["email"]
    users = wired.nudgeflow.app.tables["users"]
    assert users["u1"]["progress"]["user_id"] == "u1" and users["u1"]["partition"] == 0
    timers = wired.nudgeflow.app.tables["timers"]
    assert len(list(timers.keys())) == 1, "the stall timer's entry is stored with the record"
    assert wired.nudgeflow.stats.processed == 2 + 2  # and the two idle records


async def test_the_agent_dead_letters_with_the_injected_clock_and_re_keys(wired: Wired) -> None:
    await wired.put(b"[]", key=b"u1")
    [letter] = wired.published("dead_letters")
    assert letter["error_type"] == "schema" and letter["rejected_at"].startswith("2026-03-02T12:00:00")
    await wired.put(track("Data Source Connected", T0).model_dump_json(by_alias=True).encode(), key=b"someone-else")
    assert [m.key for m in wired.broker.topic("events").take()] == [b"u1"]
    assert wired.nudgeflow.stats.dead_lettered == 1 and wired.nudgeflow.stats.rekeyed == 1


async def test_the_app_registers_the_outbox_and_the_timer_task(wired: Wired) -> None:
    app = wired.nudgeflow.app
    assert isinstance(wired.nudgeflow.outbox, OutboxSender)
    assert set(app.agents) == {"process-events", "outbox", "inbox"}
    assert set(app.tables) == {"users", "timers", "outbox", "inbox", "accounts"}
    assert wired.nudgeflow.firing.clock is wired.clock and wired.nudgeflow.handler.clock is wired.clock
    assert not wired.nudgeflow.ready, "not ready before partitions are assigned and tables recovered"


async def test_the_inbox_agent_keeps_each_users_prompts_in_the_inbox_table(wired: Wired) -> None:
    for event in (identify(T0, role="admin"), track("Data Source Connected", T0)):
        await wired.put(event.model_dump_json(by_alias=True).encode(), key=b"u1")
    [published] = wired.broker.topic("prompts").take()
    record, key = published.value, published.key
    inbox = wired.nudgeflow.app.tables["inbox"]
    async with wired.nudgeflow.app.agents["inbox"].test_context() as agent:
        await agent.put(record, key=key, partition=0)
        seen = json.loads(record or b"") | {"status": "seen"}
        await agent.put(json.dumps(seen).encode(), key=key, partition=0)
        await agent.put(record, key=key, partition=0)  # the creation read again after a crash
        await eventually(lambda: inbox.get("u1") is not None, timeout=5, interval=0.001)
    row = inbox["u1"]
    [prompt] = row["prompts"].values()
    assert prompt["title"] == "Connected" and prompt["status"] == "seen", "a replayed creation resets nothing"
    assert row["last"]["change"] == "updated"
