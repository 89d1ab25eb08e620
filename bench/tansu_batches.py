"""The embedded broker's cost per record batch: why the soak stalled (docs/benchmarks.md, soak).

No Nudgeflow here, only aiokafka and the embedded Tansu (memory store). One partition gets records
one per batch (a producer that does not linger), another the same records in large batches. After
each step a fresh consumer reads the last 20 records of each. Tansu's time to serve that read, and to
accept more writes, grows with the number of batches already in the partition; in large batches the
same records cost nothing. A step that does not finish within `--step-timeout` is reported as such.

    python -m bench.tansu_batches [--steps 5000,10000,20000,30000] [--step-timeout 60]
"""

from __future__ import annotations

import argparse
import asyncio
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from bench import broker as b
from nudgeflow.orchestrator.broker.embedded import EmbeddedBroker

VALUE = b"v" * 400  # about a product event's size
TAIL = 20


async def tail_read_ms(bootstrap: str, topic: str, end: int) -> float:
    """A fresh consumer's time to read the partition's last `TAIL` records."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, fetch_max_wait_ms=20)
    await consumer.start()
    try:
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        consumer.seek(partition, end - TAIL)
        started, got = time.perf_counter(), 0
        while got < TAIL:
            batches = await consumer.getmany(partition, timeout_ms=2000)
            got += sum(len(records) for records in batches.values())
        return (time.perf_counter() - started) * 1000
    finally:
        await consumer.stop()


async def fill(small: AIOKafkaProducer, large: AIOKafkaProducer, start: int, stop: int) -> None:
    pending = []
    for n in range(start, stop):
        key = str(n).encode()
        pending += [await small.send("small", VALUE, key=key), await large.send("large", VALUE, key=key)]
        if len(pending) > 4000:
            await asyncio.gather(*pending)
            pending.clear()
    await asyncio.gather(*pending)


async def measure(bootstrap: str, steps: list[int], step_timeout: float) -> None:
    await b.create_topic(bootstrap, "small", 1)
    await b.create_topic(bootstrap, "large", 1)
    small = AIOKafkaProducer(bootstrap_servers=bootstrap, max_batch_size=600, linger_ms=0)  # one record per batch
    large = AIOKafkaProducer(bootstrap_servers=bootstrap, max_batch_size=256 * 1024, linger_ms=20)
    await small.start()
    await large.start()
    print("records in the partition | write step s | tail read ms: one-record batches | large batches", flush=True)
    try:
        done = 0
        for target in steps:
            started = time.perf_counter()
            try:
                await asyncio.wait_for(fill(small, large, done, target), step_timeout)
            except TimeoutError:
                print(f"{target:>9,} | writing did not finish within {step_timeout:.0f} s", flush=True)
                return
            done = target
            took = time.perf_counter() - started
            one, many = await tail_read_ms(bootstrap, "small", done), await tail_read_ms(bootstrap, "large", done)
            print(f"{done:>9,} | {took:6.1f} | {one:8.0f} | {many:8.0f}", flush=True)
    finally:
        await small.stop()
        await large.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", default="5000,10000,20000,30000", help="records in the partition after each step")
    parser.add_argument("--step-timeout", type=float, default=60.0, help="seconds before a write step is given up")
    args = parser.parse_args()
    with EmbeddedBroker() as tansu:
        asyncio.run(measure(tansu.bootstrap_servers, [int(s) for s in args.steps.split(",")], args.step_timeout))


if __name__ == "__main__":
    main()
