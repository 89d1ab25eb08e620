"""Benchmarks against one embedded Tansu broker: raw aiokafka (a), bare Faust (b), the Nudgeflow
pipeline (c), its profile, and event → in-app prompt latency (f)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faust
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench.workload import NOISE_EVENTS, probe_pair, track
from nudgeflow.channels.inapp.feed import FeedEntry
from nudgeflow.orchestrator.app import faust_options
from nudgeflow.orchestrator.runtime.worker import Worker
from nudgeflow.orchestrator.settings import Settings

log = logging.getLogger("bench")
PARTITIONS = 4


@dataclass
class Throughput:
    name: str
    events: int
    seconds: float  # first → last event handled
    startup_seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


async def create_topic(bootstrap: str, topic: str, partitions: int = PARTITIONS) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, partitions, 1)])
        for _ in range(50):
            if topic in await admin.list_topics():
                return
            await asyncio.sleep(0.1)
    finally:
        await admin.close()


async def produce_all(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]]) -> float:
    """Loads the topic as fast as the producer batches; returns seconds."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, max_batch_size=256 * 1024)
    await producer.start()
    try:
        started = time.perf_counter()
        futures = []
        for key, value in records:
            futures.append(await producer.send(topic, value, key=key))
            if len(futures) >= 5000:
                await asyncio.gather(*futures)
                futures.clear()
        await asyncio.gather(*futures)
        return time.perf_counter() - started
    finally:
        await producer.stop()


async def raw_consume(bootstrap: str, topic: str, count: int) -> Throughput:
    """(a) aiokafka getmany + json.loads, no consumer group: the ceiling of this broker + client."""
    started = time.perf_counter()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=8 * 2**20,
        fetch_max_bytes=32 * 2**20,
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        seen = 0
        users: set[str] = set()
        first = time.perf_counter()  # from the first fetch on: includes the first round trip
        while seen < count:
            batches = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            for records in batches.values():
                for record in records:
                    users.add(json.loads(record.value)["userId"])
                seen += len(records)
        last = time.perf_counter()
        return Throughput("raw aiokafka getmany + json.loads", seen, last - first, first - started)
    finally:
        await consumer.stop()


async def bare_faust(bootstrap: str, topic: str, count: int, data_dir: Path) -> Throughput:
    """(b) a Faust agent (same options as the worker on Tansu) that only decodes each event."""
    started = time.perf_counter()
    profile = Settings.model_construct(broker_profile="tansu")
    app = faust.App(
        f"bench-bare-{uuid.uuid4().hex[:6]}",
        broker=f"kafka://{bootstrap}",
        store="memory://",
        web_enabled=False,
        topic_partitions=PARTITIONS,
        datadir=str(data_dir),
        tabledir=str(data_dir),
        consumer_auto_offset_reset="earliest",
        **faust_options(profile),
    )
    source = app.topic(topic, key_serializer="raw", value_serializer="raw")
    state = {"seen": 0, "first": 0.0, "last": 0.0}
    done = asyncio.Event()

    @app.agent(source, name="decode-only")
    async def decode_only(stream: faust.StreamT[bytes]) -> None:
        async for value in stream:
            json.loads(value)
            if not state["seen"]:
                state["first"] = time.perf_counter()
            state["seen"] += 1
            if state["seen"] >= count:
                state["last"] = time.perf_counter()
                done.set()

    await app.start()
    try:
        await asyncio.wait_for(done.wait(), timeout=600)
    finally:
        await app.stop()
    return Throughput(
        "bare Faust agent (decode only)", int(state["seen"]), state["last"] - state["first"], state["first"] - started
    )


def pipeline_settings(
    bootstrap: str, events_topic: str, rules_path: Path, table_dir: Path, **overrides: Any
) -> Settings:
    prefix = f"bench{uuid.uuid4().hex[:6]}"
    values: dict[str, Any] = dict(
        kafka_bootstrap_servers=bootstrap,
        broker_profile="tansu",
        app_id=prefix,
        events_topic=events_topic,
        dead_letter_topic=f"{prefix}.dlq",
        outcomes_topic=f"{prefix}.outcomes",
        prompts_topic=f"{prefix}.prompts",
        deliveries_topic=f"{prefix}.deliveries",
        topic_partitions=PARTITIONS,
        rules_path=rules_path,
        table_dir=table_dir,
        run_api=False,
        api_port=0,
    )
    for name in ("timers_topic", "preferences_topic"):  # settings other engineers may have added
        if name in Settings.model_fields:
            values[name] = f"{prefix}.{name.removesuffix('_topic')}"
    values.update(overrides)
    return Settings(_env_file=None, **values)


def _handled(worker: Worker) -> int:
    """Every event of the topic, wherever it ended: processed, a duplicate, dead-lettered (by the agent
    or at ingest), or dropped at ingest because no rule reads it (the pre-filter)."""
    assert worker.nudgeflow is not None
    stats = worker.nudgeflow.stats
    ingest = worker.ingest.counts if worker.ingest is not None else None
    at_ingest = ingest.filtered + ingest.dead_lettered if ingest is not None else 0
    return stats.processed + stats.duplicates + stats.dead_lettered + at_ingest


async def pipeline(
    bootstrap: str, topic: str, count: int, rules_path: Path, profiler: Any | None = None, **overrides: Any
) -> Throughput:
    """(c) the Nudgeflow worker over the topic, from its first processed event to its last."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tables:
        async with Worker(pipeline_settings(bootstrap, topic, rules_path, Path(tables), **overrides)) as worker:
            first = 0.0
            while _handled(worker) < count:
                if not first and _handled(worker):
                    first = time.perf_counter()
                    if profiler is not None:
                        profiler.start()
                await asyncio.sleep(0.005)
            last = time.perf_counter()
            if profiler is not None:
                profiler.stop()
            assert worker.nudgeflow is not None
            stats = worker.nudgeflow.stats
            extra = {
                "processed": stats.processed,
                "dead_lettered": stats.dead_lettered,
                "duplicates": stats.duplicates,
                "ready_seconds": worker.ready_seconds,
            }
    return Throughput("Nudgeflow pipeline (Worker, example playbooks)", count, last - first, first - started, extra)


@dataclass
class Latency:
    offered_rate: float
    seconds: float
    sent: int
    probes: int
    seen: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    processed_during: int
    drain_seconds: float
    p50_first_quarter_ms: float
    p50_last_quarter_ms: float

    @property
    def sustained(self) -> bool:
        """Kept up: the backlog cleared quickly and latency did not grow during the run."""
        return self.drain_seconds < 3.0 and self.p50_last_quarter_ms <= 1.5 * self.p50_first_quarter_ms + 250


async def prompt_latency(
    bootstrap: str, rules_path: Path, *, rate: float, seconds: float, probe_share: float = 0.1
) -> Latency:
    """(f) events at a fixed rate; for a share of them (an operator's first dashboard view) the
    time from handing the record to the producer to the prompt reaching the live streams (worker.inbox_feed)."""
    topic = f"bench-latency-{uuid.uuid4().hex[:6]}"
    await create_topic(bootstrap, topic)
    sent_at: dict[str, float] = {}
    seen_at: dict[str, float] = {}

    def on_change(entry: FeedEntry) -> None:
        if entry.change == "created" and entry.prompt.user_id.startswith("probe-"):
            seen_at.setdefault(entry.prompt.user_id, time.perf_counter())

    with tempfile.TemporaryDirectory() as tables:
        settings = pipeline_settings(bootstrap, topic, rules_path, Path(tables), run_api=True)
        async with Worker(settings) as worker:
            await worker.wait_ready(timeout=120)
            unsubscribe = worker.inbox_feed.subscribe(on_change)
            producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
            await producer.start()
            try:
                total = int(rate * seconds)
                tick = 0.01
                per_tick = rate * tick
                started = time.perf_counter()
                handled_before = _handled(worker)
                sent = probes = 0
                noise_user = 0
                pending = []
                while sent < total:
                    due = min(total, int((time.perf_counter() - started) / tick * per_tick) + 1)
                    while sent < due:
                        now = datetime.now(UTC)
                        if probes < sent * probe_share:
                            user = f"probe-{probes:06d}"
                            identify_value, track_value = probe_pair(user, now)
                            pending.append(await producer.send(topic, identify_value, key=user.encode()))
                            sent_at[user] = time.perf_counter()
                            pending.append(await producer.send(topic, track_value, key=user.encode()))
                            probes += 1
                            sent += 2
                        else:
                            user = f"noise-{noise_user % 5000:05d}"
                            noise_user += 1
                            name, properties = NOISE_EVENTS[noise_user % len(NOISE_EVENTS)]
                            value = json.dumps(track(user, name, properties, now)).encode()
                            pending.append(await producer.send(topic, value, key=user.encode()))
                            sent += 1
                    if len(pending) > 2000:
                        await asyncio.gather(*pending)
                        pending.clear()
                    await asyncio.sleep(tick)
                await asyncio.gather(*pending)
                offered_seconds = time.perf_counter() - started
                processed_during = _handled(worker) - handled_before
                drain_started = time.perf_counter()
                deadline = drain_started + 60
                while (
                    len(seen_at) < probes or _handled(worker) - handled_before < sent
                ) and time.perf_counter() < deadline:
                    await asyncio.sleep(0.02)
                drain = time.perf_counter() - drain_started
            finally:
                unsubscribe()
                await producer.stop()
    in_order = [(seen_at[u] - sent_at[u]) * 1000 for u in sorted(sent_at) if u in seen_at]
    quarter = max(1, len(in_order) // 4)
    latencies = sorted(in_order)

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else float("nan")

    return Latency(
        offered_rate=sent / offered_seconds,
        seconds=offered_seconds,
        sent=sent,
        probes=probes,
        seen=len(latencies),
        p50_ms=statistics.median(latencies) if latencies else float("nan"),
        p90_ms=pct(0.90),
        p99_ms=pct(0.99),
        max_ms=latencies[-1] if latencies else float("nan"),
        processed_during=processed_during,
        drain_seconds=drain,
        p50_first_quarter_ms=statistics.median(in_order[:quarter]) if in_order else float("nan"),
        p50_last_quarter_ms=statistics.median(in_order[-quarter:]) if in_order else float("nan"),
    )


def _frame_key(frame: Any) -> tuple[str, str]:
    where = frame.file_path_short or frame.file_path or ""
    return f"{frame.function} ({where}:{frame.line_no})", frame.file_path or ""


def _self_times(profiler: Any) -> tuple[list[tuple[str, str, float]], float]:
    """(function, file, self seconds) per frame; pyinstrument's synthetic '[self]' leaves and
    frames without a file are charged to the function that called them."""
    root = profiler.last_session.root_frame()
    out: list[tuple[str, str, float]] = []

    def walk(frame: Any, owner: tuple[str, str]) -> None:
        key = _frame_key(frame) if frame.file_path else owner
        self_time = frame.time - sum(child.time for child in frame.children)
        if self_time > 0:
            out.append((key[0], key[1], self_time))
        for child in frame.children:
            walk(child, key)

    walk(root, _frame_key(root))
    return out, root.time or 1.0


def top_costs(profiler: Any, limit: int = 15) -> tuple[list[tuple[str, float, float]], float]:
    """(function, self seconds, share of the profiled time), largest first."""
    times, whole = _self_times(profiler)
    totals: dict[str, float] = {}
    for name, _, seconds in times:
        totals[name] = totals.get(name, 0.0) + seconds
    ranked = sorted(totals.items(), key=lambda item: -item[1])[:limit]
    return [(name, seconds, seconds / whole) for name, seconds in ranked], whole


def inclusive_costs(profiler: Any, predicate: Callable[[str], bool], limit: int = 15) -> list[tuple[str, float]]:
    """Share of the profiled time spent inside each function whose file matches `predicate`
    (callees included; a function is counted once per stack, recursion or not)."""
    root = profiler.last_session.root_frame()
    whole = root.time or 1.0
    totals: dict[str, float] = {}

    def walk(frame: Any, active: frozenset[str]) -> None:
        name = _frame_key(frame)[0]
        if frame.file_path and predicate(frame.file_path) and name not in active:
            totals[name] = totals.get(name, 0.0) + frame.time
            active = active | {name}
        for child in frame.children:
            walk(child, active)

    walk(root, frozenset())
    ranked = sorted(totals.items(), key=lambda item: -item[1])[:limit]
    return [(name, seconds / whole) for name, seconds in ranked]


def module_costs(profiler: Any, classify: Callable[[str], str]) -> dict[str, float]:
    """Share of self time by component (classify maps a file path to a label)."""
    times, _ = _self_times(profiler)
    totals: dict[str, float] = {}
    for _, path, seconds in times:
        label = classify(path)
        totals[label] = totals.get(label, 0.0) + seconds
    whole = sum(totals.values()) or 1.0
    return {label: t / whole for label, t in sorted(totals.items(), key=lambda item: -item[1])}


@contextlib.contextmanager
def quiet_logs() -> Any:
    previous = logging.getLogger().level
    logging.basicConfig(level=logging.WARNING)
    for name in ("aiokafka", "faust", "mode", "orchestrator", "channels", "rules", "kafka"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        yield
    finally:
        logging.getLogger().setLevel(previous)


async def fetch_hop_latency(
    bootstrap: str, waits_ms: tuple[int, ...] = (1500, 500, 20), samples: int = 20
) -> dict[int, float]:
    """Median produce → consume time of one record on an idle topic, per fetch_max_wait_ms:
    shows whether the broker answers a waiting fetch as soon as data arrives."""
    out: dict[int, float] = {}
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for wait in waits_ms:
            topic = f"bench-hop-{wait}-{uuid.uuid4().hex[:6]}"
            await create_topic(bootstrap, topic, 1)
            consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, fetch_max_wait_ms=wait)
            await consumer.start()
            try:
                partition = TopicPartition(topic, 0)
                consumer.assign([partition])
                await consumer.seek_to_end(partition)
                times: list[float] = []
                for _ in range(samples):
                    await asyncio.sleep(0.05 + (len(times) % 7) * 0.031)  # land at varied points of a fetch
                    sent = time.perf_counter()
                    await producer.send_and_wait(topic, b"x", partition=0)
                    while not (await consumer.getmany(partition, timeout_ms=5000)):
                        pass
                    times.append((time.perf_counter() - sent) * 1000)
                out[wait] = statistics.median(times)
            finally:
                await consumer.stop()
    finally:
        await producer.stop()
    return out
