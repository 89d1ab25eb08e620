"""The true end of a partition on Tansu, whose ListOffsets "latest" is wrong for multi-record batches.

Tansu answers ListOffsets "latest" with the newest batch's base offset + 1, not the offset after its
last record: a partition holding a batch of 10 and a batch of 7 lists 11, while a fetch reports its
high watermark as 17 (measured, docs/deploy.md). Faust's table recovery reads a changelog up to the
listed end, so it stopped short and a restart lost state; the tansu profile therefore sent one record
per produce request, which cost the embedded default most of its throughput.

A fetch from one below the listed end returns that last batch, and the fetch response's high
watermark is the true end. `true_end_offsets` makes that correction with a consumer of its own;
`correct_recovery_highwaters` applies it to Faust's recovery on the tansu profile (Apache Kafka
lists the right end, and is left alone).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, TypeVar

import aiokafka

from nudgeflow.orchestrator.broker.side_consumer import side_consumer

log = logging.getLogger(__name__)

PROBE_FETCH_WAIT_MS = 20  # Tansu answers a fetch only when its wait expires
PROBE_ROUNDS = 10

TP = TypeVar("TP")


async def true_end_offsets(probe: aiokafka.AIOKafkaConsumer, listed: Mapping[TP, int]) -> dict[TP, int]:
    """The listed ends, raised to the high watermark a fetch from one below each reports.
    `probe` is a started consumer without a group; it is assigned the partitions for this."""
    ends = dict(listed)
    wanted = [tp for tp, end in listed.items() if end > 0]
    if not wanted:
        return ends
    probe.assign(wanted)  # Faust TP and aiokafka TopicPartition: equal tuples
    for tp in wanted:
        probe.seek(tp, listed[tp] - 1)
    for _ in range(PROBE_ROUNDS):
        await probe.getmany(*wanted, timeout_ms=10 * PROBE_FETCH_WAIT_MS)
        if all(probe.highwater(tp) is not None for tp in wanted):
            break
    for tp in wanted:
        highwater = probe.highwater(tp)
        if highwater is None:
            log.warning("%s: no fetch answered; trusting the listed end %d", tp, listed[tp])
        elif highwater > listed[tp]:
            ends[tp] = highwater
    return ends


_applied = False


def correct_recovery_highwaters() -> None:
    """Faust's recovery (and its standbys) read changelogs up to the true end on Tansu."""
    global _applied
    if _applied:
        return
    from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

    thread_class: Any = AIOKafkaConsumerThread
    listed_highwaters = thread_class.highwaters  # runs in the app's loop, asks the consumer's thread

    async def highwaters(self: Any, *partitions: Any) -> Mapping[Any, int]:
        listed: Mapping[Any, int] = await listed_highwaters(self, *partitions)
        if not any(end > 0 for end in listed.values()):
            return listed
        probe = side_consumer(self.app, "end-probe", fetch_max_wait_ms=PROBE_FETCH_WAIT_MS)
        await probe.start()
        try:
            return await true_end_offsets(probe, listed)
        finally:
            await probe.stop()

    thread_class.highwaters = highwaters
    _applied = True
