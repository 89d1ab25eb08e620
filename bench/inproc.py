"""In-process benchmarks: the rules engine alone (d) and the worker's RocksDB timer index (e)."""

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

from bench.timer_store import TempTimerTable
from bench.worker_probe import rss_bytes
from bench.workload import engine_events, generated_playbooks, identify, track, write_playbooks
from nudgeflow.orchestrator.timers.index import TimerIndex
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
        written = write_playbooks(Path(folder), books)  # PyYAML's dump: seconds, and not part of loading
        started = time.perf_counter()
        ruleset = load_ruleset(written)
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
    partitions: int
    store: str
    arm_seconds: float  # the first `timers − traced_timers` armed through `TimerIndex.sync`, untraced
    arm_us: float
    traced_timers: int  # the last ones, armed under tracemalloc
    traced_mib: float  # Python heap growth over those (the index keeps no per-timer object in memory)
    bytes_per_timer: float
    rss_open_mib: float  # RSS growth from opening the partitions' databases
    rss_mib: float  # RSS growth from arming them all (memtables, block cache, allocator)
    memtable_mib: float  # RocksDB's own figures at that point, summed over the partitions
    block_cache_mib: float
    disk_mib: float  # the databases' directories after a flush
    first_pass_us: float  # the first `due()` pass, nothing due, heads not yet known
    pass_calls: int
    pass_p50_us: float  # `due()` over every partition, nothing due
    pass_p99_us: float
    pass_max_us: float
    due_per_pass: int
    due_rounds: int
    due_p50_us: float  # `due()` returning `due_per_pass` due timers
    due_p99_us: float
    due_max_us: float
    delete_us: float  # the agent deleting one fired entry (`sync` to no timer)
    rescan_after_reset_us: float  # one pass after `reset()` (a rebalance), over the tombstones left
    count_us: float  # `count()` (RocksDB's estimate of the keys)


def timer_index(
    count: int = 1_000_000, *, passes: int = 1000, due_per_pass: int = 100, due_rounds: int = 200
) -> TimerResult:
    """Arm `count` timers (due from 6 hours on) in the worker's RocksDB timer index, then time `due()`
    passes with nothing due, and with `due_per_pass` due that the agent then deletes."""
    gc.collect()
    rss_start = rss_bytes()
    with TempTimerTable() as table:
        rss_open = rss_bytes()
        index = TimerIndex(table)
        owned = range(len(table._dbs))
        base = datetime.now(UTC) + timedelta(hours=6)
        traced_timers = min(count // 10, 100_000)
        untraced = count - traced_timers

        def arm(i: int) -> None:
            index.sync(f"user-{i:07d}", i % len(owned), {}, {f"stall:{i % 7}": base + timedelta(seconds=i)})

        started = time.perf_counter()
        for i in range(untraced):
            arm(i)
        arm_seconds = time.perf_counter() - started
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        for i in range(untraced, count):
            arm(i)
        traced = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        gc.collect()
        rss_armed = rss_bytes()
        memtable = table.property_sum("rocksdb.cur-size-all-mem-tables")
        block_cache = table.property_sum("rocksdb.block-cache-usage")
        table.flush()  # what a worker that has run a while reads: SST files through the block cache
        disk = table.disk_bytes()

        now = time.time()
        started = time.perf_counter()
        assert not index.due(now, owned)
        first_pass_us = (time.perf_counter() - started) * 1e6
        latencies = []
        for _ in range(passes):
            started = time.perf_counter()
            index.due(now, owned)
            latencies.append((time.perf_counter() - started) * 1e6)

        due_latencies = []
        deleting = 0.0
        for k in range(due_rounds):
            at = datetime.now(UTC) - timedelta(seconds=1)
            armed = [
                (f"due-{k:03d}-{j:03d}", j % len(owned), at + j * timedelta(microseconds=1))
                for j in range(due_per_pass)
            ]
            for user, partition, due_at in armed:
                index.sync(user, partition, {}, {"stall:0": due_at})
            started = time.perf_counter()
            fired = index.due(time.time(), owned)
            due_latencies.append((time.perf_counter() - started) * 1e6)
            assert len(fired) == due_per_pass, len(fired)
            for timer in fired:
                index.fired(timer)
            started = time.perf_counter()
            for user, partition, due_at in armed:
                index.sync(user, partition, {"stall:0": due_at}, {})
            deleting += time.perf_counter() - started
        assert not index.in_flight
        index.reset()
        started = time.perf_counter()
        assert not index.due(time.time(), owned)
        rescan_us = (time.perf_counter() - started) * 1e6
        started = time.perf_counter()
        estimate = index.count(owned)
        count_us = (time.perf_counter() - started) * 1e6
        assert estimate > 0
    return TimerResult(
        timers=count,
        partitions=len(owned),
        store="RocksDB (rocksdict), one database per partition, Faust's options and the worker's store_options",
        arm_seconds=arm_seconds,
        arm_us=arm_seconds / max(untraced, 1) * 1e6,
        traced_timers=traced_timers,
        traced_mib=traced / 2**20,
        bytes_per_timer=traced / max(traced_timers, 1),
        rss_open_mib=(rss_open - rss_start) / 2**20,
        rss_mib=(rss_armed - rss_open) / 2**20,
        memtable_mib=memtable / 2**20,
        block_cache_mib=block_cache / 2**20,
        disk_mib=disk / 2**20,
        first_pass_us=first_pass_us,
        pass_calls=passes,
        pass_p50_us=statistics.median(latencies),
        pass_p99_us=_percentile(latencies, 0.99),
        pass_max_us=max(latencies),
        due_per_pass=due_per_pass,
        due_rounds=due_rounds,
        due_p50_us=statistics.median(due_latencies),
        due_p99_us=_percentile(due_latencies, 0.99),
        due_max_us=max(due_latencies),
        delete_us=deleting / (due_rounds * due_per_pass) * 1e6,
        rescan_after_reset_us=rescan_us,
        count_us=count_us,
    )
