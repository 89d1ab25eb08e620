"""Nudgeflow's one partitioner places keyed records exactly where Kafka's Java client (murmur2) would."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner

from nudgeflow.orchestrator.broker.partitioning import partition_for, partitioner


def test_keyed_records_go_where_the_java_client_puts_them() -> None:
    java_compatible = DefaultPartitioner()
    for partitions in (1, 3, 8, 24):
        every = list(range(partitions))
        for n in range(200):
            key = f"user-{n}".encode()
            assert (
                partitioner(key, every, every) == java_compatible(key, every, every) == partition_for(key, partitions)
            )


def test_a_users_partition_does_not_depend_on_which_partitions_are_available() -> None:
    every = list(range(8))
    assert {partitioner(b"ana", every, available) for available in ([0], [1, 2], every)} == {partition_for(b"ana", 8)}
