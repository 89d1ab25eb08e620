"""The one partitioner of every topic Nudgeflow writes: murmur2 of the key, as Kafka's Java client and
Kafka Streams' repartition topics (and aiokafka) compute it.

A user's state lives on one partition of the internal by-user topic. The ingest stage re-keys every
valid event by userId and picks its partition with `partition_for`, so which client or partitioner
produced the event (librdkafka's CRC32, murmur2, keyless) no longer matters; the Faust app's producer,
the API's writer and the ingest stage all use `partitioner`, so timers, deliveries and prompts of a
user land on the same partition number too.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from aiokafka.partitioner import murmur2


def partition_for(key: bytes, partitions: int) -> int:
    """Kafka's default for keyed records: positive murmur2 hash modulo the partition count."""
    hashed: int = murmur2(key)
    return (hashed & 0x7FFFFFFF) % partitions


def partitioner(key: bytes | None, all_partitions: Sequence[int], available: Sequence[int]) -> int:
    """aiokafka's partitioner interface (also Faust's `producer_partitioner`). Keyless records (none of
    Nudgeflow's own) go to a random available partition."""
    if key is None:
        return random.choice(list(available or all_partitions))
    return sorted(all_partitions)[partition_for(key, len(all_partitions))]
