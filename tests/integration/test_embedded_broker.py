"""The embedded Tansu broker starts, serves Kafka clients, stops cleanly, and never clashes on ports."""

from __future__ import annotations

import socket

from nudgeflow.orchestrator.broker.embedded import EmbeddedBroker
from tests.support.kafka import produce, read_topic


async def test_two_brokers_run_side_by_side_and_stop_cleanly() -> None:
    with EmbeddedBroker() as first, EmbeddedBroker() as second:
        assert first.port != second.port
        await produce(first.bootstrap_servers, "hello", [(b"k", b'{"n": 1}')])
        assert await read_topic(first.bootstrap_servers, "hello") == [{"n": 1}]
        pid = first.pid
    assert not first.is_running() and not second.is_running()
    assert pid is not None
    with socket.socket() as sock:  # the port is free again
        sock.bind(("127.0.0.1", first.port))
