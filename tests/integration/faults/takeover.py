"""One takeover run: N `nudgeflow worker` processes share 8 partitions, ≥ 300 events/s for hundreds of
users arrive, one worker is killed -9 at a random moment, nothing restarts it. Afterwards every user's
celebrations and stall nudges must be there exactly once, whichever worker owned them.

Shared by tests/integration/faults/test_takeover.py (a few runs in CI) and bench/faults.py (20+ runs and
docs/faults.md).
"""

from __future__ import annotations

import asyncio
import json
import random
import textwrap
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

from nudgeflow.orchestrator.broker.embedded import free_port
from nudgeflow.orchestrator.settings import Settings
from tests.integration.faults.where_lost import where_lost
from tests.support.events import identify, track
from tests.support.inapp import auth_headers
from tests.support.kafka import read_topic
from tests.support.processes import WorkerProcess

PARTITIONS = 8
STALL_SECONDS = 4
PLAYBOOK = f"""\
id: takeover
name: Takeover
audience:
  role: admin
milestones:
  - id: connect_source
    title: Connect a data source
    when:
      event: Data Source Connected
      where:
        status: ok
    celebrate:
      - channel: in_app
        title: "Connected {{{{ event.source }}}}"
        body: "{{{{ progress.done }}}} of {{{{ progress.total }}}}"
  - id: invite_teammate
    title: Invite a teammate
    when:
      event: Teammate Invited
      after: connect_source
    celebrate:
      - channel: in_app
        title: "Team work!"
        body: "{{{{ progress.done }}}} of {{{{ progress.total }}}}"
stalls:
  - milestone: invite_teammate
    of: connect_source
    not_within: {STALL_SECONDS}s
    nudges:
      - channel: in_app
        title: "Invite someone"
        body: "nudge"
"""
NOISE = ("Page Viewed", "Button Clicked", "Search Performed")
Expected = tuple[str, str, str]  # user, prompt kind, milestone


@dataclass
class TakeoverRun:
    workers: int
    users: int
    events: int
    rate: float  # events/s achieved by the producer
    killed_after_s: float  # into the load
    takeover_s: float | None  # kill -9 → every partition producing again
    missing: list[Expected] = field(default_factory=list)
    unexpected: list[Expected] = field(default_factory=list)
    outcome_replays: int = 0  # repeated outcome records with an already-seen outcome_id (dropped by consumers)
    double_completions: list[str] = field(default_factory=list)  # a milestone completed twice (different ids)
    inbox_problems: list[str] = field(default_factory=list)
    phases: dict[str, float] = field(default_factory=dict)  # seconds: start, load, catch-up, checks
    seek_backs: int = 0  # times the Faust patch abandoned records fetched before a seek (Faust 0.15.3 would skip)
    early_nudges: int = 0  # finishers nudged because the takeover held their invite past the stall window
    unstuck: int = 0  # partitions found stalled and read again by orchestrator/broker/stall_watch.py
    lost_where: list[str] = field(default_factory=list)  # where missing users' records stopped (where_lost.py)
    seconds: float = 0.0

    @property
    def clean(self) -> bool:
        return not (self.missing or self.unexpected or self.inbox_problems or self.double_completions)


def write_playbook(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "takeover.yaml").write_text(textwrap.dedent(PLAYBOOK))
    return folder


def script(users: list[str], rng: random.Random) -> tuple[list[tuple[bytes, bytes]], set[Expected], set[Expected]]:
    """Two thirds of the users finish (two celebrations); a third connect and stop (a celebration, then a
    stall nudge STALL_SECONDS later). Users interleave; each user's events keep their order.
    Returns the records, the prompts each user must get, and the prompts they may get: a finisher whose
    invite waits behind the takeover longer than the stall window is nudged first, rightly."""
    per_user: list[list[tuple[bytes, bytes]]] = []
    expected: set[Expected] = set()
    allowed: set[Expected] = set()
    for n, user in enumerate(users):
        key = user.encode()
        connect = track(user, "Data Source Connected", {"status": "ok", "source": "Postgres"})
        events = [
            (key, identify(user, {"role": "admin"})),
            (key, track(user, rng.choice(NOISE), {})),
            (key, track(user, "Data Source Connected", {"status": "failed", "source": "S3"})),
            (key, connect),
            (key, connect),  # a producer retry: the same messageId again
        ]
        expected.add((user, "celebration", "connect_source"))
        if n % 3 == 2:
            expected.add((user, "nudge", "invite_teammate"))
        else:
            events += [(key, track(user, rng.choice(NOISE), {})), (key, track(user, "Teammate Invited", {}))]
            expected.add((user, "celebration", "invite_teammate"))
            allowed.add((user, "nudge", "invite_teammate"))
        per_user.append(events)
    records: list[tuple[bytes, bytes]] = []
    while any(per_user):
        for events in per_user:
            if events:
                records.append(events.pop(0))
    return records, expected, allowed


class RateProducer:
    """Sends records at `rate`/s in 20 ms ticks (batched like a real producer, order kept per partition)."""

    def __init__(self, bootstrap: str, topic: str, records: list[tuple[bytes, bytes]], rate: float) -> None:
        self.bootstrap, self.topic, self.records, self.rate = bootstrap, topic, records, rate
        self.sent = 0
        self.started = 0.0
        self.finished = 0.0

    async def run(self) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, linger_ms=5, request_timeout_ms=60_000)
        await producer.start()
        try:
            self.started = time.monotonic()
            while self.sent < len(self.records):
                due = min(len(self.records), int((time.monotonic() - self.started) * self.rate) + 1)
                batch = [
                    await producer.send(self.topic, value, key=key) for key, value in self.records[self.sent : due]
                ]
                await asyncio.gather(*batch)
                self.sent = due
                await asyncio.sleep(0.02)
            self.finished = time.monotonic()
        finally:
            await producer.stop()


async def run_takeover(
    base: Settings, workdir: Path, *, workers: int, users: int = 300, rate: float = 300.0, seed: int = 0
) -> TakeoverRun:
    """`base`: settings on a running broker with fresh topic names (as the `make_settings` fixture gives)."""
    rng = random.Random(seed)
    started = time.monotonic()
    settings = base.model_copy(
        update={"topic_partitions": PARTITIONS, "rules_path": write_playbook(workdir / "playbooks")}
    )
    names = [f"u{seed}-{uuid.uuid4().hex[:4]}-{i:03d}" for i in range(users)]
    records, expected, allowed = script(names, rng)
    processes = [
        WorkerProcess(settings.model_copy(update={"api_port": free_port()}), workdir / f"worker-{n}.log")
        for n in range(workers)
    ]
    bootstrap = settings.kafka_bootstrap_servers
    assert bootstrap
    try:
        await asyncio.gather(*(p.start(timeout=60) for p in processes))
        phases = {"start": time.monotonic() - started}
        load = RateProducer(bootstrap, settings.events_topic, records, rate)
        sending = asyncio.create_task(load.run())
        load_seconds = len(records) / rate
        kill_at = rng.uniform(1.0, 0.7 * load_seconds)
        await asyncio.sleep(kill_at)
        victim = rng.randrange(workers)
        killed_at = time.time()
        processes[victim].kill()
        await asyncio.wait_for(sending, timeout=120)
        phases["load"] = time.monotonic() - started - phases["start"]
        survivors = [p for n, p in enumerate(processes) if n != victim]
        found = await _wait_for_prompts(bootstrap, settings.prompts_topic, expected, timeout=60 + STALL_SECONDS)
        run = TakeoverRun(
            workers=workers,
            users=users,
            events=len(records),
            rate=len(records) / max(load.finished - load.started, 1e-9),
            killed_after_s=kill_at,
            takeover_s=None,
            phases=phases,
        )
        phases["catch_up"] = time.monotonic() - started - phases["start"] - phases["load"]
        run.missing = sorted(expected - found)
        run.unexpected = sorted(found - expected - allowed)
        run.early_nudges = len(found & allowed)
        outcomes = await read_topic(bootstrap, settings.outcomes_topic, decode=False, timeout=20)
        run.outcome_replays = _replays(outcomes)
        run.double_completions = _double_completions(outcomes)
        run.takeover_s = _takeover_seconds(outcomes, killed_at)
        run.inbox_problems = await _inbox_problems(survivors[0].api_url, expected, found & allowed)
        if run.missing:
            run.lost_where = await where_lost(settings, {user for user, _, _ in run.missing})
        logs = [p.log_path.read_text(errors="replace") for p in processes]
        run.seek_backs = sum(text.count("seeking back") for text in logs)
        run.unstuck = sum(text.count("none was read for") for text in logs)
        run.seconds = time.monotonic() - started
        phases["checks"] = run.seconds - sum(phases.values())
        return run
    finally:
        await asyncio.gather(*(asyncio.to_thread(process.stop) for process in processes))  # each may take seconds


async def _wait_for_prompts(bootstrap: str, topic: str, expected: set[Expected], timeout: float) -> set[Expected]:
    def seen(values: list[Any]) -> set[Expected]:
        return {(p["user_id"], p["kind"], p["milestone_id"]) for p in values}

    prompts = await read_topic(bootstrap, topic, timeout=timeout, until=lambda values: expected <= seen(values))
    return seen(prompts)


def _replays(records: list[Any]) -> int:
    ids: dict[str, int] = defaultdict(int)
    for record in records:
        ids[json.loads(record.value)["outcome_id"]] += 1
    return sum(count - 1 for count in ids.values())


def _double_completions(records: list[Any]) -> list[str]:
    """Replays carry the same outcome_id; two different ids for one user's milestone would be a real duplicate."""
    ids: dict[tuple[str, str], set[str]] = defaultdict(set)
    for record in records:
        outcome = json.loads(record.value)
        if outcome["kind"] == "milestone_completed":
            ids[(outcome["user_id"], outcome["milestone_id"])].add(outcome["outcome_id"])
    return [f"{user}/{milestone}" for (user, milestone), found in sorted(ids.items()) if len(found) > 1]


def _takeover_seconds(records: list[Any], killed_at: float) -> float | None:
    """Kill → the moment the last partition published an outcome again (outcomes are keyed by user, so
    an outcome partition is the partition of the user's events)."""
    first_after: dict[int, float] = {}
    for record in records:
        at = record.timestamp / 1000
        if at >= killed_at:
            first_after[record.partition] = min(first_after.get(record.partition, at), at)
    if len(first_after) < PARTITIONS:
        return None
    return max(first_after.values()) - killed_at


async def _inbox_problems(api_url: str, expected: set[Expected], also: set[Expected]) -> list[str]:
    """Every user's inbox on a surviving worker's API holds exactly the expected prompts (plus the early
    nudges seen on the topic), once each. The inbox agent follows the prompts topic, so it may lag a
    little, and a user's worker may be taking over (503, retry)."""
    by_user: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for user, kind, milestone in expected | also:
        by_user[user].append((kind, milestone))
    deadline = time.monotonic() + 20
    limit = asyncio.Semaphore(16)

    async def check(client: httpx.AsyncClient, user: str, wanted: list[tuple[str, str]]) -> str | None:
        async with limit:
            while True:
                try:
                    response = await client.get(f"/v1/users/{user}/prompts", headers=auth_headers(user))
                except httpx.TransportError as exc:  # the worker is gone? kept as the answer if it persists
                    got: Any = repr(exc)
                else:
                    if response.status_code != 503:
                        response.raise_for_status()
                    listed = response.json()["prompts"] if response.status_code == 200 else []
                    got = sorted((str(p["kind"]), str(p["milestone_id"])) for p in listed)
                    if got == sorted(wanted):
                        return None
                if time.monotonic() > deadline:
                    return f"{user}: {got}"
                await asyncio.sleep(0.2)

    async with httpx.AsyncClient(base_url=api_url, timeout=10) as client:
        results = await asyncio.gather(*(check(client, user, wanted) for user, wanted in sorted(by_user.items())))
    return [problem for problem in results if problem]
