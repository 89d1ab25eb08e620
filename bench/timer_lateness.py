"""How late timers fire with N armed: the worker's own firing loop (`TimerFiring.run`) on the wall
clock, publishing each due timer's command to the embedded broker as the worker does.

N timers are armed; `due` of them come due over the next `window` seconds, the rest hours later (a
million users' stall timers, a few due at any moment). Lateness is the publish time minus the due time.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import statistics
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aiokafka import AIOKafkaProducer

from bench import broker as b
from nudgeflow.orchestrator.timers.firing import TimerFiring, command_for
from nudgeflow.orchestrator.timers.schedule import ScheduledTimer


@dataclass
class TimerLateness:
    armed: int
    due_in_window: int
    window_seconds: float
    fired: int
    late_p50_ms: float
    late_p99_ms: float
    late_max_ms: float
    arm_seconds: float


async def timer_lateness(bootstrap: str, armed: int, *, due: int, window: float) -> TimerLateness:
    topic = f"bench-timers-{uuid.uuid4().hex[:6]}"
    await b.create_topic(bootstrap, topic)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    late_ms: list[float] = []
    finished = asyncio.Event()

    async def publish(timer: ScheduledTimer) -> None:
        late_ms.append((time.time() - timer.due_at.timestamp()) * 1000)
        await producer.send(topic, command_for(timer), key=timer.user_id.encode(), partition=timer.partition % 4)
        if len(late_ms) >= due:
            finished.set()

    firing = TimerFiring(publish)
    await firing.fire_due(lambda: ([], set()))  # the first pass rebuilds from the (empty) table
    started = time.perf_counter()
    later = datetime.now(UTC) + timedelta(hours=6)
    for i in range(due, armed):  # due hours from now
        firing.schedule.arm(ScheduledTimer(later + timedelta(seconds=i), f"user-{i:07d}", f"stall:{i % 7}", i % 12))
    first_due = datetime.now(UTC) + timedelta(seconds=2)
    for i in range(due):  # due during the window, evenly spread
        at = first_due + timedelta(seconds=window * i / due)
        firing.schedule.arm(ScheduledTimer(at, f"user-{i:07d}", f"stall:{i % 7}", i % 12))
    arm_seconds = time.perf_counter() - started
    gc.collect()
    runner = asyncio.create_task(firing.run(ready=lambda: True, load=lambda: ([], set())))
    try:
        await asyncio.wait_for(finished.wait(), timeout=window + 120)
    finally:
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
        await producer.stop()
    ordered = sorted(late_ms)
    return TimerLateness(
        armed=armed,
        due_in_window=due,
        window_seconds=window,
        fired=len(late_ms),
        late_p50_ms=statistics.median(ordered),
        late_p99_ms=ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
        late_max_ms=ordered[-1],
        arm_seconds=arm_seconds,
    )
