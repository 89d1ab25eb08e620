"""Supervised background tasks: a failure is logged and restarted with backoff; a task that keeps
failing stops the worker with a clear reason; health shows each task's state. No real time passes:
the backoff pauses and the clock are injected."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import pytest

from nudgeflow.orchestrator.runtime.supervise import Supervisor, TaskState
from nudgeflow.rules.contracts.prompts import Prompt
from tests.support.inbox import InboxStore, inbox_api


class FakeTime:
    """Backoff pauses are recorded and return at once; the clock moves only when a test says so."""

    def __init__(self) -> None:
        self.now = 0.0
        self.pauses: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        await asyncio.sleep(0)  # let other tasks run; no time passes

    def clock(self) -> float:
        return self.now


def supervisor(fake: FakeTime, **options: Any) -> Supervisor:
    return Supervisor(sleep=fake.sleep, clock=fake.clock, **options)


async def wait(event: asyncio.Event) -> None:
    await asyncio.wait_for(event.wait(), timeout=5)


async def test_a_task_that_raises_is_logged_and_restarted(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeTime()
    tasks = supervisor(fake)
    attempts = 0
    running_again = asyncio.Event()

    async def flaky() -> None:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise FileNotFoundError("playbooks/b.yaml")
        running_again.set()
        await asyncio.Event().wait()  # runs until stopped

    with caplog.at_level(logging.WARNING):
        tasks.spawn("rules-watch", flaky)
        await wait(running_again)
    assert attempts == 2 and fake.pauses == [1.0]
    failure = next(r for r in caplog.records if "failed" in r.getMessage())
    assert "rules-watch" in failure.getMessage() and failure.exc_info is not None  # with its traceback
    ok, states = tasks.health()
    assert ok and states["rules-watch"]["state"] == "running" and states["rules-watch"]["restarts"] == 1
    assert states["rules-watch"]["last_error"] == "FileNotFoundError: playbooks/b.yaml"
    await tasks.stop()
    assert tasks.statuses["rules-watch"].state is TaskState.STOPPED and not tasks.gave_up.is_set()


async def test_a_task_that_keeps_failing_stops_the_worker_with_a_clear_reason(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = FakeTime()
    tasks = supervisor(fake, max_failures=5)
    healthy = asyncio.Event()

    async def broken() -> None:
        raise ConnectionError("broker unreachable")

    async def fine() -> None:
        healthy.set()
        await asyncio.Event().wait()

    tasks.spawn("timer-firing", broken)
    tasks.spawn("inbox-follower", fine)
    await wait(tasks.gave_up)
    await wait(healthy)
    assert fake.pauses == [1.0, 2.0, 4.0, 8.0]  # exponential backoff between the five attempts
    assert tasks.reason == (
        "background task 'timer-firing' failed 5 times in a row (last: ConnectionError: broker unreachable); "
        "stopping the worker"
    )
    assert tasks.reason in caplog.text
    ok, states = tasks.health()
    assert not ok
    assert states["timer-firing"]["state"] == "failed" and states["inbox-follower"]["state"] == "running"
    await tasks.stop()
    assert tasks.statuses["timer-firing"].state is TaskState.FAILED


async def test_a_task_that_returns_counts_as_a_failure_and_health_shows_it_restarting() -> None:
    fake = FakeTime()
    paused = asyncio.Event()
    release = asyncio.Event()

    async def held_sleep(seconds: float) -> None:
        fake.pauses.append(seconds)
        paused.set()
        await release.wait()

    tasks = Supervisor(sleep=held_sleep, clock=fake.clock)
    runs = 0

    async def returns() -> None:
        nonlocal runs
        runs += 1

    tasks.spawn("outbox-resume", returns)
    await wait(paused)
    ok, states = tasks.health()
    assert not ok and states["outbox-resume"]["state"] == "restarting"
    assert states["outbox-resume"]["last_error"] == "returned"
    await tasks.stop()
    assert runs == 1


async def test_a_long_healthy_run_resets_the_failure_count() -> None:
    fake = FakeTime()
    tasks = supervisor(fake, max_failures=2, stable_after=60)
    attempts = 0
    third = asyncio.Event()

    async def fails_after_a_while() -> None:
        nonlocal attempts
        attempts += 1
        if attempts == 3:
            third.set()
            await asyncio.Event().wait()
        fake.now += 61  # each run lasts longer than stable_after before it fails
        raise RuntimeError("transient")

    tasks.spawn("preferences-follower", fails_after_a_while)
    await wait(third)
    assert not tasks.gave_up.is_set() and fake.pauses == [1.0, 1.0]
    await tasks.stop()


async def test_stop_is_not_a_failure_and_names_are_unique() -> None:
    tasks = Supervisor()
    started = asyncio.Event()

    async def forever() -> None:
        started.set()
        await asyncio.Event().wait()

    tasks.spawn("rules-watch", forever)
    with pytest.raises(ValueError, match="already supervised"):
        tasks.spawn("rules-watch", forever)
    await wait(started)
    await tasks.stop()
    assert tasks.statuses["rules-watch"].restarts == 0 and not tasks.gave_up.is_set()


async def test_healthz_reports_each_task_and_503_once_one_is_down() -> None:
    fake = FakeTime()
    tasks = supervisor(fake, max_failures=2)
    up = asyncio.Event()
    fail = asyncio.Event()

    async def follower() -> None:
        up.set()
        await asyncio.Event().wait()

    async def timers() -> None:
        await fail.wait()
        raise RuntimeError("schedule corrupted")

    async def discard(prompt: Prompt) -> None:
        return None

    tasks.spawn("inbox-follower", follower)
    tasks.spawn("timer-firing", timers)
    api = inbox_api(InboxStore(), discard, ready=lambda: True, health=tasks.health)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://worker") as http:
        await wait(up)
        healthy = await http.get("/healthz")
        assert healthy.status_code == 200
        assert {name: t["state"] for name, t in healthy.json()["tasks"].items()} == {
            "inbox-follower": "running",
            "timer-firing": "running",
        }
        fail.set()
        await wait(tasks.gave_up)
        down = await http.get("/healthz")
    assert down.status_code == 503 and down.json()["status"] == "degraded"
    assert down.json()["tasks"]["timer-firing"] == {
        "state": "failed",
        "restarts": 1,
        "failures_in_a_row": 2,
        "last_error": "RuntimeError: schedule corrupted",
    }
    await tasks.stop()
