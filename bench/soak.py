"""Soak: a worker under a steady event rate, its RSS sampled; growth after warm-up is the leak figure.

Runs in a child process (`python -m bench.soak JSON`) so the RSS is the worker's and is not masked
by memory earlier phases freed. The users are a fixed population (bench.workload.live_events), so
once all are known the state stops growing and RSS growth past warm-up is not new users' records.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer

from bench import broker as b
from bench.worker_probe import rocksdb_bytes, rss_bytes
from bench.workload import live_events
from nudgeflow.orchestrator.runtime.worker import Worker

SAMPLE_SECONDS = 5.0
# The product's producer batches for 100 ms, as a Kafka producer at volume would. With 5 ms, the
# embedded broker's memory store slowed with every small batch and stopped serving fetches of the
# events topic after ~180,000 records, with plain aiokafka clients too (docs/benchmarks.md, soak):
# the soak then measured Tansu, not the worker's memory.
PRODUCER_LINGER_MS = 100


@dataclass
class Soak:
    offered_rate: float
    warmup_seconds: float
    seconds: float
    users: int
    sent: int
    handled: int
    rss_after_warmup_bytes: int
    rss_end_bytes: int
    rss_max_bytes: int
    rss_growth_pct: float
    samples: list[tuple[float, int, int]]  # (seconds since start, rss bytes, events handled)
    rocksdb_bytes: list[int] = field(default_factory=list)  # per sample: memory RocksDB reports (worker_probe)


async def soak(bootstrap: str, rules_path: Path, *, rate: float, warmup: float, seconds: float, users: int) -> Soak:
    topic = f"bench-soak-{uuid.uuid4().hex[:6]}"
    await b.create_topic(bootstrap, topic)
    source = live_events(users)
    samples: list[tuple[float, int, int]] = []
    rocksdb: list[int] = []
    with tempfile.TemporaryDirectory() as tables:
        async with Worker(b.pipeline_settings(bootstrap, topic, rules_path, Path(tables))) as worker:
            await worker.wait_ready(timeout=300)
            producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=PRODUCER_LINGER_MS)
            await producer.start()
            try:
                tick, sent, pending = 0.01, 0, []
                started = next_sample = time.perf_counter()
                rss_after_warmup = 0
                while (elapsed := time.perf_counter() - started) < warmup + seconds:
                    due = int(elapsed * rate) + 1
                    while sent < due:
                        key, value = next(source)
                        pending.append(await producer.send(topic, value, key=key))
                        sent += 1
                    if len(pending) > 2000:
                        await asyncio.gather(*pending)
                        pending.clear()
                    if time.perf_counter() >= next_sample:
                        samples.append((elapsed, rss_bytes(), b._handled(worker)))
                        rocksdb.append(rocksdb_bytes(worker))
                        next_sample += SAMPLE_SECONDS
                        if not rss_after_warmup and elapsed >= warmup:
                            rss_after_warmup = samples[-1][1]
                    await asyncio.sleep(tick)
                await asyncio.gather(*pending)
                offered = sent / (time.perf_counter() - started)
                samples.append((time.perf_counter() - started, rss_bytes(), b._handled(worker)))
                rocksdb.append(rocksdb_bytes(worker))
            finally:
                await producer.stop()
    end = samples[-1][1]
    rss_after_warmup = rss_after_warmup or end
    return Soak(
        offered_rate=offered,
        warmup_seconds=warmup,
        seconds=seconds,
        users=users,
        sent=sent,
        handled=samples[-1][2],
        rss_after_warmup_bytes=rss_after_warmup,
        rss_end_bytes=end,
        rss_max_bytes=max(s[1] for s in samples),
        rss_growth_pct=(end - rss_after_warmup) / rss_after_warmup * 100,
        samples=samples,
        rocksdb_bytes=rocksdb,
    )


def run_child(bootstrap: str, rules_path: Path, *, rate: float, warmup: float, seconds: float, users: int) -> Soak:
    """The soak in its own process (see the module docstring)."""
    import subprocess

    options = {"bootstrap": bootstrap, "rules_path": str(rules_path), "rate": rate, "warmup": warmup}
    options |= {"seconds": seconds, "users": users}
    done = subprocess.run(
        [sys.executable, "-m", "bench.soak", json.dumps(options)], check=True, capture_output=True, text=True
    )
    values: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    values["samples"] = [tuple(s) for s in values["samples"]]
    return Soak(**values)


def main() -> None:
    o = json.loads(sys.argv[1])
    with b.quiet_logs():
        result = asyncio.run(
            soak(
                o["bootstrap"],
                Path(o["rules_path"]),
                rate=o["rate"],
                warmup=o["warmup"],
                seconds=o["seconds"],
                users=o["users"],
            )
        )
    print(json.dumps(asdict(result)), flush=True)


if __name__ == "__main__":
    main()
