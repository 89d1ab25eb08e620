"""In-process benchmarks: the rules engine alone (d) and the timer schedule (e)."""

from __future__ import annotations

import gc
import json
import statistics
import tempfile
import time
import tracemalloc
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.workload import engine_events, generated_playbooks, identify, track, write_playbooks
from nudgeflow.orchestrator.timers.schedule import ScheduledTimer, TimerSchedule
from nudgeflow.rules import Engine, load_ruleset
from nudgeflow.rules.contracts.events import TrackEvent, parse_product_event
from nudgeflow.rules.contracts.users import UserProgress


@dataclass
class EngineResult:
    milestones: int
    playbooks: int
    load_seconds: float
    events: int
    events_per_second: float
    us_per_event: float
    matched_per_event: float


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def engine_throughput(
    milestones: int, *, per_playbook: int = 100, events: int = 20_000, events_per_user: int = 20
) -> EngineResult:
    """Engine.on_event over a stream where each user (in every playbook's audience) sends
    `events_per_user` events, half of them milestone events of the ruleset, half noise."""
    books = generated_playbooks(milestones, per_playbook)
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        ruleset = load_ruleset(write_playbooks(Path(folder), books))
        load_seconds = time.perf_counter() - started
    engine = Engine(ruleset)
    at = datetime.now(UTC) - timedelta(hours=1)
    now = datetime.now(UTC)
    parsed = []
    for i, (name, properties) in enumerate(engine_events(books, events)):
        user = f"u{i // events_per_user}"
        parsed.append(parse_product_event(json.dumps(track(user, name, properties, at + timedelta(seconds=i)))))
    # Each user starts identified (role admin): the cost measured is the steady state, not entry.
    entered: dict[str, UserProgress] = {}
    for user in {e.userId for e in parsed}:
        first = parse_product_event(json.dumps(identify(user, "admin", at)))
        entered[user] = engine.on_event(UserProgress.new(user), first, now).progress
    gc.collect()
    decisions = 0
    progress = dict(entered)
    started = time.perf_counter()
    for event in parsed:
        result = engine.on_event(progress[event.userId], event, now)
        progress[event.userId] = result.progress
        decisions += len(result.decisions)
    elapsed = time.perf_counter() - started
    assert all(isinstance(e, TrackEvent) for e in parsed)
    return EngineResult(
        milestones=milestones,
        playbooks=len(books),
        load_seconds=load_seconds,
        events=events,
        events_per_second=events / elapsed,
        us_per_event=elapsed / events * 1e6,
        matched_per_event=decisions / events,
    )


@dataclass
class TimerResult:
    timers: int
    arm_seconds: float
    traced_mib: float
    bytes_per_timer: float
    next_due_us: float
    pop_calls: int
    pop_p50_us: float
    pop_p99_us: float
    pop_max_us: float
    timers_per_pop: float
    pop_all_seconds: float
    cancel_us: float
    gc_pauses_during_pops: int
    gc_max_pause_us: float


def timer_schedule(count: int = 1_000_000, pop_calls: int = 10_000) -> TimerResult:
    """Arm `count` timers due over the next `count` seconds, then pop them in `pop_calls` steps."""
    base = datetime(2030, 1, 1, tzinfo=UTC)
    timers = [
        ScheduledTimer(base + timedelta(seconds=i), f"user-{i:07d}", f"stall:{i % 7}", i % 12) for i in range(count)
    ]
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    schedule = TimerSchedule()
    started = time.perf_counter()
    for timer in timers:
        schedule.arm(timer)
    arm_seconds = time.perf_counter() - started
    traced = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert len(schedule) == count
    started = time.perf_counter()
    for _ in range(1000):
        schedule.next_due()
    next_due_us = (time.perf_counter() - started) / 1000 * 1e6
    started = time.perf_counter()
    for i in range(0, 10_000, 10):  # cancel 1,000 (lazily: their heap entries are dropped on pop)
        schedule.cancel(f"user-{i:07d}", f"stall:{i % 7}")
    cancel_us = (time.perf_counter() - started) / 1000 * 1e6
    step = count / pop_calls
    start_epoch = base.timestamp()
    latencies = []
    popped = 0
    pauses: list[float] = []
    gc_started = [0.0]

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            gc_started[0] = time.perf_counter()
        else:
            pauses.append((time.perf_counter() - gc_started[0]) * 1e6)

    gc.callbacks.append(on_gc)
    started_all = time.perf_counter()
    for k in range(1, pop_calls + 1):
        started = time.perf_counter()
        popped += len(schedule.pop_due(start_epoch + k * step - 1))
        latencies.append((time.perf_counter() - started) * 1e6)
    pop_all_seconds = time.perf_counter() - started_all
    gc.callbacks.remove(on_gc)
    assert popped == count - 1000 and len(schedule) == 0, (popped, len(schedule))
    return TimerResult(
        timers=count,
        arm_seconds=arm_seconds,
        traced_mib=traced / 2**20,
        bytes_per_timer=traced / count,
        next_due_us=next_due_us,
        pop_calls=pop_calls,
        pop_p50_us=statistics.median(latencies),
        pop_p99_us=_percentile(latencies, 0.99),
        pop_max_us=max(latencies),
        timers_per_pop=popped / pop_calls,
        pop_all_seconds=pop_all_seconds,
        cancel_us=cancel_us,
        gc_pauses_during_pops=len(pauses),
        gc_max_pause_us=max(pauses, default=0.0),
    )
