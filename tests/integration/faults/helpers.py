"""Scripted load and exactly-once checks shared by the fault tests."""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections import defaultdict
from typing import Any

from aiokafka import AIOKafkaProducer

from tests.support.events import identify, track
from tests.support.inapp import list_prompts
from tests.support.kafka import read_topic

# The two milestones of tests/integration/conftest.py's playbook, each with one in-app celebration.
MILESTONES = ("connect_source", "invite_teammate")
NOISE = ("Page Viewed", "Button Clicked", "Search Performed")


def user_script(users: list[str], seed: int = 1) -> list[tuple[bytes, bytes]]:
    """Per user, in order: identify (admin), noise, a failed connection (no milestone), the
    successful one, the same record again (duplicate messageId), noise, the invite. Users interleave."""
    rng = random.Random(seed)
    per_user: list[list[tuple[bytes, bytes]]] = []
    for user in users:
        key = user.encode()
        connect = track(
            user,
            "Data Source Connected",
            {"status": "ok", "source": "Postgres"},
            message_id=f"{user}-connect-{uuid.uuid4().hex[:6]}",
        )
        per_user.append(
            [
                (key, identify(user, {"role": "admin"})),
                (key, track(user, rng.choice(NOISE), {})),
                (key, track(user, "Data Source Connected", {"status": "failed", "source": "S3"})),
                (key, connect),
                (key, connect),
                (key, track(user, rng.choice(NOISE), {})),
                (key, track(user, "Teammate Invited", {})),
            ]
        )
    script: list[tuple[bytes, bytes]] = []
    while any(per_user):
        for records in per_user:
            if records:
                script.append(records.pop(0))
    return script


class Load:
    """Produces `records` in order at `rate` records/s in the background (acks awaited)."""

    def __init__(self, bootstrap: str, topic: str, records: list[tuple[bytes, bytes]], rate: float) -> None:
        self.bootstrap, self.topic, self.records, self.rate = bootstrap, topic, records, rate
        self.sent = 0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, request_timeout_ms=60_000)
        await producer.start()
        try:
            started = time.monotonic()
            for key, value in self.records:
                await producer.send_and_wait(self.topic, value, key=key)
                self.sent += 1
                ahead = started + self.sent / self.rate - time.monotonic()
                if ahead > 0:
                    await asyncio.sleep(ahead)
        finally:
            await producer.stop()

    def start(self) -> Load:
        self._task = asyncio.create_task(self._run())
        return self

    async def until_sent(self, count: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while self.sent < count:
            assert self._task is not None
            if self._task.done():
                self._task.result()
            if time.monotonic() > deadline:
                raise AssertionError(f"only {self.sent}/{count} records sent in {timeout}s")
            await asyncio.sleep(0.05)

    async def finish(self, timeout: float = 60.0) -> None:
        assert self._task is not None
        await asyncio.wait_for(self._task, timeout)


def completions(outcomes: list[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    by_milestone: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for outcome in outcomes:
        if outcome["kind"] == "milestone_completed":
            by_milestone[(outcome["user_id"], outcome["milestone_id"])].append(outcome)
    return by_milestone


async def wait_for_all_completions(
    bootstrap: str, topic: str, users: list[str], timeout: float = 40.0
) -> dict[tuple[str, str], list[dict[str, Any]]]:
    expected = {(user, milestone) for user in users for milestone in MILESTONES}
    outcomes = await read_topic(
        bootstrap, topic, timeout=timeout, until=lambda values: expected <= set(completions(values))
    )
    return completions(outcomes)


def assert_each_milestone_completed_once(found: dict[tuple[str, str], list[dict[str, Any]]], users: list[str]) -> int:
    """Exactly the expected (user, milestone) pairs; replays of a completion (same outcome_id, same
    triggering message) are allowed, two different completions of one milestone are not.
    Returns how many replayed copies were seen (consumers drop them by outcome_id)."""
    expected = {(user, milestone) for user in users for milestone in MILESTONES}
    missing, extra = sorted(expected - set(found)), sorted(set(found) - expected)
    assert not missing and not extra, f"missing {missing[:5]}, extra {extra[:5]}"
    replays = 0
    for pair, copies in found.items():
        assert len({c["outcome_id"] for c in copies}) == 1, (pair, copies)
        assert len({c["attributes"]["message_id"] for c in copies}) == 1, (pair, copies)
        replays += len(copies) - 1
    return replays


async def assert_one_prompt_per_milestone(api_url: str, users: list[str], timeout: float = 20.0) -> None:
    """Each user's inbox, read over the API, holds one prompt per milestone. The API follows the
    prompts topic, so it may lag the outcomes topic a little: wait for it, but never accept a duplicate."""
    deadline = time.monotonic() + timeout
    for user in users:
        while True:
            milestones = sorted(p["milestone_id"] for p in await list_prompts(api_url, user))
            assert len(milestones) == len(set(milestones)), (user, milestones)
            if milestones == sorted(MILESTONES):
                break
            assert time.monotonic() < deadline, (user, milestones)
            await asyncio.sleep(0.1)


def decoded(values: list[Any]) -> list[dict[str, Any]]:
    return [json.loads(v) if isinstance(v, bytes | str) else v for v in values]
